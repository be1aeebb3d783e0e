"""ActionResult, ActionStatus, ExecutionMode and ExecutionResult value types."""

from __future__ import annotations

import copy
import enum
import pickle
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

UTC = timezone.utc  # datetime.UTC is Python 3.11+


class _EqualsEverything:
    """Answers True to any == comparison (checks NotImplemented fallback)."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = None  # type: ignore[assignment]


def _tr(impl):
    return impl.TransitionResult.success_result("idle", "busy", "go")


# ---------------------------------------------------------------------------
# ActionStatus / ExecutionMode
# ---------------------------------------------------------------------------


def test_action_status_members_and_values(impl):
    S = impl.ActionStatus
    assert [m.name for m in S] == ["OK", "FAILED", "SKIPPED"]
    assert [m.value for m in S] == ["ok", "failed", "skipped"]
    assert len(S) == 3


def test_action_status_is_a_str_enum(impl):
    S = impl.ActionStatus
    assert issubclass(S, enum.Enum)
    assert issubclass(S, str)
    assert isinstance(S.OK, str)
    assert S.OK == "ok"
    assert S.FAILED == "failed"
    assert S.SKIPPED == "skipped"
    assert S.OK != "failed"
    assert hash(S.OK) == hash("ok")
    assert "skipped" in {S.SKIPPED}


def test_action_status_lookup(impl):
    S = impl.ActionStatus
    assert S("ok") is S.OK
    assert S("failed") is S.FAILED
    assert S["SKIPPED"] is S.SKIPPED
    with pytest.raises(ValueError):
        S("nope")
    with pytest.raises(KeyError):
        S["ok"]


def test_action_status_repr(impl):
    assert repr(impl.ActionStatus.OK) == "<ActionStatus.OK: 'ok'>"
    assert repr(impl.ActionStatus.FAILED) == "<ActionStatus.FAILED: 'failed'>"
    assert repr(impl.ActionStatus.SKIPPED) == "<ActionStatus.SKIPPED: 'skipped'>"


def test_execution_mode_members_and_values(impl):
    M = impl.ExecutionMode
    assert [m.name for m in M] == ["SEQUENTIAL", "PARALLEL", "PHASED"]
    assert [m.value for m in M] == ["sequential", "parallel", "phased"]
    assert issubclass(M, str) and issubclass(M, enum.Enum)
    assert M.SEQUENTIAL == "sequential"
    assert M.PARALLEL == "parallel"
    assert M.PHASED == "phased"
    assert M("phased") is M.PHASED
    assert repr(M.PARALLEL) == "<ExecutionMode.PARALLEL: 'parallel'>"
    with pytest.raises(ValueError):
        M("concurrent")


def test_enums_pickle_to_the_same_member(impl):
    for member in (*impl.ActionStatus, *impl.ExecutionMode):
        assert pickle.loads(pickle.dumps(member)) is member


# ---------------------------------------------------------------------------
# ActionResult: construction and fields
# ---------------------------------------------------------------------------


def test_action_result_defaults(impl):
    r = impl.ActionResult(True, "a")
    assert r.success is True
    assert r.action_name == "a"
    assert r.result is None
    assert r.error is None
    assert r.status is impl.ActionStatus.OK


def test_action_result_positional_construction(impl):
    err = ValueError("boom")
    r = impl.ActionResult(False, "b", 7, err, impl.ActionStatus.FAILED)
    assert (r.success, r.action_name, r.result, r.error, r.status) == (
        False,
        "b",
        7,
        err,
        impl.ActionStatus.FAILED,
    )
    assert r.error is err


def test_action_result_keyword_construction(impl):
    r = impl.ActionResult(
        status=impl.ActionStatus.SKIPPED,
        result="why",
        action_name="c",
        success=True,
    )
    assert r.action_name == "c"
    assert r.result == "why"
    assert r.status is impl.ActionStatus.SKIPPED
    assert r.error is None


def test_action_result_requires_success_and_name(impl):
    with pytest.raises(TypeError):
        impl.ActionResult()
    with pytest.raises(TypeError):
        impl.ActionResult(True)


def test_action_result_does_not_validate_consistency(impl):
    # success=False with the default status OK is accepted as given
    r = impl.ActionResult(False, "a")
    assert r.success is False
    assert r.status is impl.ActionStatus.OK
    assert r.is_skipped is False


def test_ok_classmethod(impl):
    r = impl.ActionResult.ok("a")
    assert isinstance(r, impl.ActionResult)
    assert (r.success, r.action_name, r.result, r.error, r.status) == (
        True,
        "a",
        None,
        None,
        impl.ActionStatus.OK,
    )
    payload = {"k": [1, 2]}
    r2 = impl.ActionResult.ok("a", payload)
    assert r2.result is payload
    assert impl.ActionResult.ok(action_name="z", result=0).result == 0


def test_fail_classmethod(impl):
    err = KeyError("k")
    r = impl.ActionResult.fail("a", err)
    assert isinstance(r, impl.ActionResult)
    assert r.success is False
    assert r.action_name == "a"
    assert r.result is None
    assert r.error is err
    assert r.status is impl.ActionStatus.FAILED
    assert r.is_skipped is False


def test_skipped_classmethod_default_reason(impl):
    r = impl.ActionResult.skipped("a")
    assert r.success is True
    assert r.result == "not_registered"
    assert r.status is impl.ActionStatus.SKIPPED
    assert r.error is None
    assert r.is_skipped is True


def test_skipped_empty_reason_falls_back_to_not_registered(impl):
    assert impl.ActionResult.skipped("a", "").result == "not_registered"


def test_skipped_custom_reason(impl):
    r = impl.ActionResult.skipped("a", "disabled")
    assert r.result == "disabled"
    assert r.is_skipped is True
    assert impl.ActionResult.skipped(action_name="b", reason="x").result == "x"


def test_is_skipped_follows_status(impl):
    r = impl.ActionResult.ok("a")
    assert r.is_skipped is False
    r.status = impl.ActionStatus.SKIPPED
    assert r.is_skipped is True
    r.status = impl.ActionStatus.FAILED
    assert r.is_skipped is False


def test_is_skipped_with_plain_string_status(impl):
    assert impl.ActionResult(True, "a", status="skipped").is_skipped is True
    assert impl.ActionResult(True, "a", status="ok").is_skipped is False


def test_attribute_assignment(impl):
    r = impl.ActionResult.ok("a", 1)
    err = RuntimeError("late")
    r.success = False
    r.action_name = "renamed"
    r.result = [1]
    r.error = err
    r.status = impl.ActionStatus.FAILED
    assert r.success is False
    assert r.action_name == "renamed"
    assert r.result == [1]
    assert r.error is err
    assert r.status is impl.ActionStatus.FAILED


# ---------------------------------------------------------------------------
# ActionResult: equality, hashing, repr
# ---------------------------------------------------------------------------


def test_equality_by_fields(impl):
    AR = impl.ActionResult
    assert AR.ok("a", 1) == AR.ok("a", 1)
    assert AR.ok("a", 1) == AR(True, "a", 1, None, impl.ActionStatus.OK)
    assert AR.ok("a", 1) == AR.ok("a", 1.0)
    assert not (AR.ok("a", 1) != AR.ok("a", 1))
    assert AR.ok("a") != AR.ok("b")
    assert AR.ok("a", 1) != AR.ok("a", 2)
    assert AR.ok("a") != AR.skipped("a")
    assert AR(True, "a", status=impl.ActionStatus.SKIPPED) != AR.skipped("a")


def test_equality_compares_errors_as_exceptions_do(impl):
    AR = impl.ActionResult
    err = ValueError("x")
    assert AR.fail("a", err) == AR.fail("a", err)
    # exceptions compare by identity
    assert AR.fail("a", ValueError("x")) != AR.fail("a", ValueError("x"))


def test_a_result_equals_itself_whatever_its_fields(impl):
    """Identity first, as a dataclass's ``__eq__`` (3.13+) and tuple comparison do:
    a result holding a value unequal to itself (NaN) still equals itself."""
    nan = float("nan")
    r = impl.ActionResult(True, "a", result=[nan])
    r.result = nan
    assert r == r and not (r != r)
    er = impl.ExecutionResult(None, action_results=[r])
    er.execution_mode = nan
    assert er == er and not (er != er)
    assert r != impl.ActionResult(True, "a", result=float("nan"))


def test_equality_compares_a_snapshot_of_each_side(fs):
    """ferrostator reads each side's fields at one instant, before any field's
    ``__eq__`` runs (under one lock, so concurrent writers cannot tear it): an
    ``__eq__`` that assigns a later field of the same record does not change the
    outcome. (A 3.13+ dataclass reads each field as it goes.)"""
    AR = fs.ActionResult

    class Reassigns:
        def __eq__(self, other):
            left.error = "changed"
            return True

        __hash__ = None

    left = AR(True, "a", result=Reassigns(), error="e")
    right = AR(True, "a", result=Reassigns(), error="e")
    assert left == right
    assert left.error == "changed"
    assert left != right


def test_equality_against_other_types(impl):
    r = impl.ActionResult.ok("a")
    assert (r == 1) is False
    assert (r != 1) is True
    assert (r == "a") is False
    assert (r == None) is False  # noqa: E711
    assert (r == (True, "a", None, None, impl.ActionStatus.OK)) is False
    assert r != object()


def test_equality_defers_to_the_other_operand(impl):
    r = impl.ActionResult.ok("a")
    assert r == _EqualsEverything()
    assert _EqualsEverything() == r


def test_action_result_is_unhashable(impl):
    r = impl.ActionResult.ok("a")
    with pytest.raises(TypeError):
        hash(r)
    with pytest.raises(TypeError):
        {r}  # noqa: B018
    with pytest.raises(TypeError):
        {r: 1}  # noqa: B018


def test_repr_ok(impl):
    assert repr(impl.ActionResult.ok("a")) == (
        "ActionResult(success=True, action_name='a', result=None, error=None, "
        "status=<ActionStatus.OK: 'ok'>)"
    )


def test_repr_failed(impl):
    assert repr(impl.ActionResult.fail("a", ValueError("bad"))) == (
        "ActionResult(success=False, action_name='a', result=None, "
        "error=ValueError('bad'), status=<ActionStatus.FAILED: 'failed'>)"
    )


def test_repr_skipped_and_values(impl):
    assert repr(impl.ActionResult.skipped("x")) == (
        "ActionResult(success=True, action_name='x', result='not_registered', "
        "error=None, status=<ActionStatus.SKIPPED: 'skipped'>)"
    )
    assert repr(impl.ActionResult.ok("q'uote", {"k": [1, 2.5]})) == (
        "ActionResult(success=True, action_name=\"q'uote\", result={'k': [1, 2.5]}, "
        "error=None, status=<ActionStatus.OK: 'ok'>)"
    )


def test_repr_identical_between_implementations(impl, ps):
    cases = [
        lambda m: m.ActionResult.ok("a", 3),
        lambda m: m.ActionResult.skipped("b", "why"),
        lambda m: m.ActionResult(False, "c", [1], None, m.ActionStatus.FAILED),
    ]
    for build in cases:
        assert repr(build(impl)) == repr(build(ps))
    assert str(impl.ActionResult.ok("a")) == repr(impl.ActionResult.ok("a"))


def test_repr_of_self_containing_result_does_not_recurse_forever(impl):
    r = impl.ActionResult.ok("a")
    r.result = r
    text = repr(r)
    assert text.startswith("ActionResult(success=True, action_name='a', result=")


# ---------------------------------------------------------------------------
# ActionResult: pickle and copy
# ---------------------------------------------------------------------------


def test_pickle_round_trip_ok(impl):
    r = impl.ActionResult.ok("a", {"n": [1, 2]})
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        r2 = pickle.loads(pickle.dumps(r, protocol=proto))
        assert type(r2) is impl.ActionResult
        assert r2 == r
        assert r2.status is impl.ActionStatus.OK


def test_pickle_round_trip_skipped(impl):
    r = impl.ActionResult.skipped("a")
    r2 = pickle.loads(pickle.dumps(r))
    assert r2 == r
    assert r2.is_skipped is True


def test_pickle_round_trip_failed_keeps_error_type_and_args(impl):
    r = impl.ActionResult.fail("a", ValueError("bad", 2))
    r2 = pickle.loads(pickle.dumps(r))
    assert r2.success is False
    assert r2.action_name == "a"
    assert type(r2.error) is ValueError
    assert r2.error.args == ("bad", 2)
    assert r2.status is impl.ActionStatus.FAILED


def test_copy_is_shallow(impl):
    payload = [1, 2]
    r = impl.ActionResult.ok("a", payload)
    c = copy.copy(r)
    assert c is not r
    assert c == r
    assert c.result is payload
    c.action_name = "b"
    assert r.action_name == "a"


def test_deepcopy_copies_nested_values(impl):
    payload = [1, [2]]
    r = impl.ActionResult.ok("a", payload)
    d = copy.deepcopy(r)
    assert d == r
    assert d.result is not payload
    d.result[1].append(3)
    assert payload == [1, [2]]


# ---------------------------------------------------------------------------
# ExecutionResult
# ---------------------------------------------------------------------------


def test_execution_result_defaults(impl):
    tr = _tr(impl)
    before = datetime.now(UTC)
    er = impl.ExecutionResult(tr)
    after = datetime.now(UTC)
    assert er.transition_result is tr
    assert er.action_results == []
    assert er.execution_mode is impl.ExecutionMode.SEQUENTIAL
    assert isinstance(er.started_at, datetime)
    assert er.started_at.utcoffset() == timedelta(0)
    assert before <= er.started_at <= after
    assert er.completed_at is None


def test_execution_result_requires_transition_result(impl):
    with pytest.raises(TypeError):
        impl.ExecutionResult()


def test_execution_result_default_list_is_not_shared(impl):
    a = impl.ExecutionResult(_tr(impl))
    b = impl.ExecutionResult(_tr(impl))
    a.action_results.append(impl.ActionResult.ok("x"))
    assert b.action_results == []


def test_execution_result_full_construction(impl):
    tr = _tr(impl)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = start + timedelta(seconds=2)
    results = [impl.ActionResult.ok("a")]
    er = impl.ExecutionResult(tr, results, impl.ExecutionMode.PHASED, start, end)
    assert er.action_results is results
    assert er.execution_mode is impl.ExecutionMode.PHASED
    assert er.started_at == start
    assert er.completed_at == end
    er2 = impl.ExecutionResult(
        transition_result=tr,
        action_results=results,
        execution_mode=impl.ExecutionMode.PHASED,
        started_at=start,
        completed_at=end,
    )
    assert er2 == er


def test_execution_result_accepts_any_transition_object(impl):
    marker = object()
    assert impl.ExecutionResult(marker).transition_result is marker


def test_aggregate_properties(impl):
    AR = impl.ActionResult
    er = impl.ExecutionResult(_tr(impl))
    assert er.all_succeeded is True
    assert er.failed_actions == []
    assert er.succeeded_actions == []
    assert er.action_count == 0
    er.action_results.extend(
        [
            AR.ok("a"),
            AR.fail("b", ValueError()),
            AR.skipped("c"),
            AR.fail("d", OSError()),
            AR.ok("a"),
        ]
    )
    assert er.all_succeeded is False
    assert er.failed_actions == ["b", "d"]
    assert er.succeeded_actions == ["a", "c", "a"]
    assert er.action_count == 5


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    outcomes=st.lists(
        st.tuples(st.sampled_from(["ok", "fail", "skip"]), st.sampled_from("abc")), max_size=12
    )
)
def test_aggregates_property(impl, outcomes):
    AR = impl.ActionResult
    build = {
        "ok": lambda n: AR.ok(n),
        "fail": lambda n: AR.fail(n, RuntimeError(n)),
        "skip": lambda n: AR.skipped(n),
    }
    er = impl.ExecutionResult(_tr(impl), [build[kind](n) for kind, n in outcomes])
    assert er.action_count == len(outcomes)
    assert er.failed_actions == [n for kind, n in outcomes if kind == "fail"]
    assert er.succeeded_actions == [n for kind, n in outcomes if kind != "fail"]
    assert er.all_succeeded is all(kind != "fail" for kind, _ in outcomes)


def test_skipped_counts_as_succeeded(impl):
    er = impl.ExecutionResult(_tr(impl), [impl.ActionResult.skipped("x")])
    assert er.all_succeeded is True
    assert er.succeeded_actions == ["x"]
    assert er.failed_actions == []


def test_aggregate_properties_follow_mutation(impl):
    er = impl.ExecutionResult(_tr(impl), [impl.ActionResult.ok("a")])
    assert er.all_succeeded is True
    er.action_results[0].success = False
    assert er.all_succeeded is False
    assert er.failed_actions == ["a"]
    er.action_results = []
    assert er.action_count == 0
    assert er.all_succeeded is True


def test_duration_ms(impl):
    start = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    er = impl.ExecutionResult(_tr(impl), started_at=start)
    assert er.duration_ms is None
    er.completed_at = start + timedelta(seconds=1, milliseconds=500)
    assert isinstance(er.duration_ms, float)
    assert er.duration_ms == 1500.0
    er.completed_at = start + timedelta(microseconds=250)
    assert er.duration_ms == pytest.approx(0.25)
    er.completed_at = start
    assert er.duration_ms == 0.0
    er.completed_at = start - timedelta(milliseconds=5)
    assert er.duration_ms == pytest.approx(-5.0)


def test_execution_result_assignment(impl):
    er = impl.ExecutionResult(_tr(impl))
    other = impl.TransitionResult.no_op_result("x", "y")
    er.transition_result = other
    er.execution_mode = impl.ExecutionMode.PARALLEL
    stamp = datetime(2020, 1, 1, tzinfo=UTC)
    er.started_at = stamp
    er.completed_at = stamp
    assert er.transition_result is other
    assert er.execution_mode is impl.ExecutionMode.PARALLEL
    assert er.started_at == stamp
    assert er.duration_ms == 0.0


def test_execution_result_equality(impl):
    tr = _tr(impl)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    a = impl.ExecutionResult(tr, [impl.ActionResult.ok("a")], started_at=start)
    b = impl.ExecutionResult(tr, [impl.ActionResult.ok("a")], started_at=start)
    assert a == b
    b.completed_at = start
    assert a != b
    c = impl.ExecutionResult(tr, [impl.ActionResult.ok("a")])
    c.started_at = start + timedelta(microseconds=1)
    assert a != c
    assert (a == tr) is False
    assert a != "ExecutionResult"
    with pytest.raises(TypeError):
        hash(a)


def test_execution_result_repr(impl):
    tr = _tr(impl)
    start = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    er = impl.ExecutionResult(tr, started_at=start)
    assert repr(er) == (
        f"ExecutionResult(transition_result={tr!r}, action_results=[], "
        "execution_mode=<ExecutionMode.SEQUENTIAL: 'sequential'>, "
        f"started_at={start!r}, completed_at=None)"
    )
    er.action_results.append(impl.ActionResult.ok("a"))
    er.completed_at = start
    er.execution_mode = impl.ExecutionMode.PHASED
    assert repr(er) == (
        f"ExecutionResult(transition_result={tr!r}, "
        f"action_results=[{impl.ActionResult.ok('a')!r}], "
        "execution_mode=<ExecutionMode.PHASED: 'phased'>, "
        f"started_at={start!r}, completed_at={start!r})"
    )


def test_execution_result_pickle(impl):
    tr = impl.TransitionResult.success_result(
        "a", "b", "go", actions=(impl.ActionSpec("x", {"p": 1}),)
    )
    start = datetime(2024, 1, 1, tzinfo=UTC)
    er = impl.ExecutionResult(
        tr,
        [impl.ActionResult.ok("x", 5), impl.ActionResult.skipped("y")],
        impl.ExecutionMode.PARALLEL,
        start,
        start + timedelta(milliseconds=3),
    )
    er2 = pickle.loads(pickle.dumps(er))
    assert type(er2) is impl.ExecutionResult
    assert er2 == er
    assert er2.execution_mode is impl.ExecutionMode.PARALLEL
    assert er2.duration_ms == pytest.approx(3.0)


def test_execution_result_copy(impl):
    er = impl.ExecutionResult(_tr(impl), [impl.ActionResult.ok("a")])
    c = copy.copy(er)
    assert c == er
    assert c.action_results is er.action_results
    d = copy.deepcopy(er)
    assert d == er
    assert d.action_results is not er.action_results
