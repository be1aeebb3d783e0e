"""ActionSpec, TransitionResult, FSMError / ErrorCode / ActionNotFoundError and
is_transient_error."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import inspect
import math
import pickle
import re

import pytest

# ---------------------------------------------------------------------------
# ActionSpec: construction
# ---------------------------------------------------------------------------


def test_action_spec_defaults(impl):
    s = impl.ActionSpec("notify")
    assert s.name == "notify"
    assert s.params == {}
    assert s.effect is None
    assert s.timeout is None
    assert s.retry == 0
    assert s.retry_backoff == 1.0
    assert s.is_effect is False
    assert s.has_params is False


def test_action_spec_positional_and_keyword(impl):
    s = impl.ActionSpec("a", {"x": 1}, None, 2.5, 3, 0.25)
    assert (s.name, s.params, s.effect, s.timeout, s.retry, s.retry_backoff) == (
        "a",
        {"x": 1},
        None,
        2.5,
        3,
        0.25,
    )
    k = impl.ActionSpec(retry_backoff=0.25, retry=3, timeout=2.5, params={"x": 1}, name="a")
    assert k == s


def test_action_spec_default_params_not_shared(impl):
    a = impl.ActionSpec("a")
    b = impl.ActionSpec("b")
    a.params["k"] = 1
    assert b.params == {}


@pytest.mark.parametrize("kwargs", [{}, {"name": ""}, {"effect": ""}, {"name": "", "effect": None}])
def test_action_spec_needs_name_or_effect(impl, kwargs):
    with pytest.raises(ValueError, match=re.escape("ActionSpec must have a 'name' or 'effect'")):
        impl.ActionSpec(**kwargs)


def test_action_spec_effect_without_name(impl):
    s = impl.ActionSpec(effect="set")
    assert s.name == ""
    assert s.effect == "set"
    assert s.is_effect is True


def test_is_effect_and_has_params(impl):
    assert impl.ActionSpec("a", effect="clear").is_effect is True
    assert impl.ActionSpec("a", {"k": 0}).has_params is True
    assert impl.ActionSpec("a", {}).has_params is False


def test_action_spec_is_frozen(impl):
    s = impl.ActionSpec("a", {"x": 1})
    for field, value in [
        ("name", "b"),
        ("params", {}),
        ("effect", "set"),
        ("timeout", 1.0),
        ("retry", 2),
        ("retry_backoff", 2.0),
    ]:
        with pytest.raises(AttributeError):
            setattr(s, field, value)
    with pytest.raises(AttributeError):
        del s.name
    assert s == impl.ActionSpec("a", {"x": 1})


def test_pystator_action_spec_raises_frozen_instance_error(ps):
    with pytest.raises(dataclasses.FrozenInstanceError):
        ps.ActionSpec("a").name = "b"


def test_action_spec_params_dict_is_mutable_in_place(impl):
    s = impl.ActionSpec("a", {"x": 1})
    s.params["y"] = 2
    assert s.params == {"x": 1, "y": 2}
    assert s.has_params is True


# ---------------------------------------------------------------------------
# ActionSpec.from_config
# ---------------------------------------------------------------------------


def test_from_config_string(impl):
    s = impl.ActionSpec.from_config("send_email")
    assert isinstance(s, impl.ActionSpec)
    assert s == impl.ActionSpec("send_email")


def test_from_config_name_only(impl):
    assert impl.ActionSpec.from_config({"name": "a"}) == impl.ActionSpec("a")


def test_from_config_full_dict(impl):
    s = impl.ActionSpec.from_config(
        {"name": "a", "params": {"k": 1}, "timeout": 2.5, "retry": 3, "retry_backoff": 0.1}
    )
    assert s.name == "a"
    assert s.params == {"k": 1}
    assert s.effect is None
    assert s.timeout == 2.5
    assert s.retry == 3
    assert s.retry_backoff == 0.1


def test_from_config_name_wins_over_effect_keys(impl):
    s = impl.ActionSpec.from_config({"name": "a", "set": {"x": 1}})
    assert s == impl.ActionSpec("a")


def test_from_config_empty_name_is_rejected(impl):
    with pytest.raises(ValueError, match=re.escape("ActionSpec must have a 'name' or 'effect'")):
        impl.ActionSpec.from_config({"name": ""})
    with pytest.raises(ValueError, match=re.escape("ActionSpec must have a 'name' or 'effect'")):
        impl.ActionSpec.from_config("")


def test_from_config_set_effect(impl):
    value = {"a": 1, "b": [2]}
    s = impl.ActionSpec.from_config({"set": value})
    assert s.name == "_effect.set"
    assert s.effect == "set"
    assert s.params == {"a": 1, "b": [2]}
    assert s.is_effect is True
    value["c"] = 3  # the spec holds its own mapping
    assert s.params == {"a": 1, "b": [2]}


@pytest.mark.parametrize("effect", ["timestamp", "increment", "decrement", "clear"])
def test_from_config_field_effects(impl, effect):
    s = impl.ActionSpec.from_config({effect: "counter"})
    assert s == impl.ActionSpec(
        name=f"_effect.{effect}", params={"field": "counter"}, effect=effect
    )


def test_from_config_append_effect(impl):
    s = impl.ActionSpec.from_config({"append": {"field": "log", "value": {"n": 1}}})
    assert s.name == "_effect.append"
    assert s.effect == "append"
    assert s.params == {"field": "log", "value": {"n": 1}}


def test_from_config_effect_with_options(impl):
    s = impl.ActionSpec.from_config(
        {"increment": "n", "timeout": 1.5, "retry": 2, "retry_backoff": 0.5}
    )
    assert (s.name, s.params, s.effect, s.timeout, s.retry, s.retry_backoff) == (
        "_effect.increment",
        {"field": "n"},
        "increment",
        1.5,
        2,
        0.5,
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"set": 5}, "'set' effect requires a mapping, got int"),
        ({"set": ["a"]}, "'set' effect requires a mapping, got list"),
        ({"set": None}, "'set' effect requires a mapping, got NoneType"),
        ({"timestamp": 1}, "'timestamp' effect requires a field name (string)"),
        ({"increment": None}, "'increment' effect requires a field name (string)"),
        ({"decrement": ["x"]}, "'decrement' effect requires a field name (string)"),
        ({"clear": {"field": "x"}}, "'clear' effect requires a field name (string)"),
        ({"append": "log"}, "'append' effect requires {field: ..., value: ...}"),
        ({"append": {"field": "log"}}, "'append' effect requires {field: ..., value: ...}"),
        ({"append": {"value": 1}}, "'append' effect requires {field: ..., value: ...}"),
    ],
)
def test_from_config_effect_validation(impl, config, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        impl.ActionSpec.from_config(config)


@pytest.mark.parametrize("config", [42, None, {}, {"foo": 1}, ["a"], {"params": {"x": 1}}, 3.5])
def test_from_config_invalid(impl, config):
    with pytest.raises(ValueError) as info:
        impl.ActionSpec.from_config(config)
    assert str(info.value) == f"Invalid action config: {config}"


# ---------------------------------------------------------------------------
# ActionSpec: value semantics
# ---------------------------------------------------------------------------


def test_action_spec_equality(impl):
    assert impl.ActionSpec("a") == impl.ActionSpec("a")
    assert impl.ActionSpec("a", {"x": 1}) == impl.ActionSpec("a", {"x": 1})
    assert impl.ActionSpec("a") != impl.ActionSpec("b")
    assert impl.ActionSpec("a") != impl.ActionSpec("a", {"x": 1})
    assert impl.ActionSpec("a") != impl.ActionSpec("a", retry=1)
    assert impl.ActionSpec("a") != impl.ActionSpec("a", timeout=1.0)
    assert impl.ActionSpec("a") != impl.ActionSpec("a", retry_backoff=2.0)
    assert (impl.ActionSpec("a") == "a") is False
    assert impl.ActionSpec("a") != ("a", {}, None, None, 0, 1.0)


def test_action_spec_hash_fails_because_params_is_a_dict(impl):
    with pytest.raises(TypeError):
        hash(impl.ActionSpec("a"))
    with pytest.raises(TypeError):
        hash(impl.ActionSpec("a", {"x": 1}))
    with pytest.raises(TypeError):
        {impl.ActionSpec("a")}  # noqa: B018


def test_action_spec_repr(impl):
    assert repr(impl.ActionSpec("a", {"x": 1})) == (
        "ActionSpec(name='a', params={'x': 1}, effect=None, timeout=None, "
        "retry=0, retry_backoff=1.0)"
    )
    assert repr(impl.ActionSpec.from_config({"clear": "f", "timeout": 0.5, "retry": 2})) == (
        "ActionSpec(name='_effect.clear', params={'field': 'f'}, effect='clear', "
        "timeout=0.5, retry=2, retry_backoff=1.0)"
    )


def test_action_spec_pickle_and_copy(impl):
    s = impl.ActionSpec("a", {"x": [1]}, None, 0.5, 2, 0.1)
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        s2 = pickle.loads(pickle.dumps(s, protocol=proto))
        assert type(s2) is impl.ActionSpec
        assert s2 == s
    assert copy.copy(s) == s
    d = copy.deepcopy(s)
    assert d == s
    assert d.params["x"] is not s.params["x"]


# ---------------------------------------------------------------------------
# ActionSpec validation (ferrostator only)
# ---------------------------------------------------------------------------


def test_fs_action_spec_rejects_non_str_name(fs):
    with pytest.raises(TypeError, match="name"):
        fs.ActionSpec(123)


@pytest.mark.parametrize("retry", ["3", 1.5, None])
def test_fs_action_spec_rejects_non_int_retry(fs, retry):
    with pytest.raises(TypeError, match="retry"):
        fs.ActionSpec("a", retry=retry)


@pytest.mark.parametrize("timeout", ["5", [1]])
def test_fs_action_spec_rejects_non_number_timeout(fs, timeout):
    with pytest.raises(TypeError, match="timeout"):
        fs.ActionSpec("a", timeout=timeout)


@pytest.mark.parametrize("backoff", ["1", None])
def test_fs_action_spec_rejects_non_number_backoff(fs, backoff):
    with pytest.raises(TypeError, match="retry_backoff"):
        fs.ActionSpec("a", retry_backoff=backoff)


def test_fs_action_spec_rejects_nan(fs):
    with pytest.raises(ValueError, match="timeout"):
        fs.ActionSpec("a", timeout=math.nan)
    with pytest.raises(ValueError, match="retry_backoff"):
        fs.ActionSpec("a", retry_backoff=math.nan)


def test_fs_action_spec_accepts_valid_numbers(fs):
    s = fs.ActionSpec("a", timeout=2, retry=1, retry_backoff=0)
    assert s.timeout == 2
    assert s.retry == 1
    assert s.retry_backoff == 0


def test_pystator_action_spec_does_not_validate_types(ps):
    s = ps.ActionSpec(123, retry="3", timeout="5", retry_backoff=math.nan)  # type: ignore[arg-type]
    assert s.name == 123
    assert s.retry == "3"


# ---------------------------------------------------------------------------
# TransitionResult
# ---------------------------------------------------------------------------


def _specs(impl, *names):
    return tuple(impl.ActionSpec(n) for n in names)


def test_transition_result_defaults(impl):
    t = impl.TransitionResult(True, "a", "b", "go")
    assert t.success is True
    assert t.source_state == "a"
    assert t.target_state == "b"
    assert t.trigger == "go"
    assert t.actions_to_execute == ()
    assert t.on_exit_actions == ()
    assert t.on_enter_actions == ()
    assert t.error is None
    assert t.metadata == {}
    assert t.all_action_specs == ()
    assert t.all_actions == ()


def test_transition_result_is_frozen(impl):
    t = impl.TransitionResult(True, "a", "b", "go")
    for field in (
        "success",
        "source_state",
        "target_state",
        "trigger",
        "actions_to_execute",
        "on_exit_actions",
        "on_enter_actions",
        "error",
        "metadata",
    ):
        with pytest.raises(AttributeError):
            setattr(t, field, None)


def test_pystator_transition_result_raises_frozen_instance_error(ps):
    with pytest.raises(dataclasses.FrozenInstanceError):
        ps.TransitionResult(True, "a", "b", "go").success = False


def test_all_action_specs_order(impl):
    t = impl.TransitionResult(
        True,
        "a",
        "b",
        "go",
        actions_to_execute=_specs(impl, "t1", "t2"),
        on_exit_actions=_specs(impl, "x1"),
        on_enter_actions=_specs(impl, "e1", "e2"),
    )
    assert isinstance(t.all_action_specs, tuple)
    assert t.all_action_specs == _specs(impl, "x1", "t1", "t2", "e1", "e2")
    assert t.all_actions == ("x1", "t1", "t2", "e1", "e2")
    assert isinstance(t.all_actions, tuple)


def test_self_transition_and_state_changed(impl):
    TR = impl.TransitionResult
    same = TR(True, "a", "a", "go")
    moved = TR(True, "a", "b", "go")
    failed_same = TR(False, "a", "a", "go")
    failed = TR(False, "a", None, "go")
    assert (same.is_self_transition, same.state_changed) == (True, False)
    assert (moved.is_self_transition, moved.state_changed) == (False, True)
    assert (failed_same.is_self_transition, failed_same.state_changed) == (False, False)
    assert (failed.is_self_transition, failed.state_changed) == (False, False)


def test_success_result(impl):
    x, t, e = _specs(impl, "x"), _specs(impl, "t"), _specs(impl, "e")
    r = impl.TransitionResult.success_result("a", "b", "go", t, x, e, {"m": 1})
    assert r.success is True
    assert (r.source_state, r.target_state, r.trigger) == ("a", "b", "go")
    assert r.actions_to_execute == t
    assert r.on_exit_actions == x
    assert r.on_enter_actions == e
    assert r.error is None
    assert r.metadata == {"m": 1}
    assert r.all_actions == ("x", "t", "e")
    plain = impl.TransitionResult.success_result("a", "b", "go")
    assert plain.metadata == {}
    assert plain.all_action_specs == ()
    kw = impl.TransitionResult.success_result(
        source_state="a", target_state="b", trigger="go", actions=t, on_exit=x, on_enter=e
    )
    assert kw.all_actions == ("x", "t", "e")


def test_failure_result(impl):
    err = impl.FSMError("nope")
    r = impl.TransitionResult.failure_result("a", "go", err)
    assert r.success is False
    assert r.source_state == "a"
    assert r.target_state is None
    assert r.trigger == "go"
    assert r.error is err
    assert r.metadata == {}
    assert r.all_action_specs == ()
    assert impl.TransitionResult.failure_result("a", "go", err, {"k": 2}).metadata == {"k": 2}


def test_no_op_result(impl):
    r = impl.TransitionResult.no_op_result("idle", "poke")
    assert r.success is True
    assert r.source_state == "idle"
    assert r.target_state == "idle"
    assert r.trigger == "poke"
    assert r.all_action_specs == ()
    assert r.error is None
    assert r.metadata == {"no_op": True, "reason": "no_matching_transition"}
    assert r.is_self_transition is True
    assert r.state_changed is False


def test_no_op_result_merges_metadata_without_mutating_it(impl):
    meta = {"k": 1, "no_op": False, "reason": "mine"}
    r = impl.TransitionResult.no_op_result("idle", "poke", meta)
    assert r.metadata == {"k": 1, "no_op": True, "reason": "no_matching_transition"}
    assert list(r.metadata) == ["k", "no_op", "reason"]
    assert meta == {"k": 1, "no_op": False, "reason": "mine"}


def test_transition_result_equality_and_hash(impl):
    TR = impl.TransitionResult
    a = TR.success_result("a", "b", "go", _specs(impl, "t"))
    assert a == TR.success_result("a", "b", "go", _specs(impl, "t"))
    assert a != TR.success_result("a", "b", "go")
    assert a != TR.success_result("a", "c", "go", _specs(impl, "t"))
    assert (a == "a") is False
    with pytest.raises(TypeError):
        hash(a)


def test_transition_result_repr(impl):
    r = impl.TransitionResult.success_result("a", "b", "go", _specs(impl, "t"))
    assert repr(r) == (
        "TransitionResult(success=True, source_state='a', target_state='b', trigger='go', "
        "actions_to_execute=(ActionSpec(name='t', params={}, effect=None, timeout=None, "
        "retry=0, retry_backoff=1.0),), on_exit_actions=(), on_enter_actions=(), "
        "error=None, metadata={})"
    )


def test_transition_result_pickle(impl):
    r = impl.TransitionResult.success_result(
        "a",
        "b",
        "go",
        actions=(impl.ActionSpec("t", {"p": 1}, timeout=1.0),),
        on_exit=_specs(impl, "x"),
        on_enter=(impl.ActionSpec.from_config({"set": {"k": 1}}),),
        metadata={"m": [1]},
    )
    r2 = pickle.loads(pickle.dumps(r))
    assert type(r2) is impl.TransitionResult
    assert r2 == r
    f = impl.TransitionResult.failure_result("a", "go", impl.FSMError("bad", {"k": 1}))
    f2 = pickle.loads(pickle.dumps(f))
    assert f2.success is False
    assert f2.error.message == "bad"
    assert f2.error.context == {"k": 1}


# ---------------------------------------------------------------------------
# FSMError / ErrorCode
# ---------------------------------------------------------------------------


def test_error_code_values(impl):
    expected = {
        "GUARD_REJECTED": "guard_rejected",
        "GUARD_EXECUTION_ERROR": "guard_execution_error",
        "VALIDATION_FAILED": "validation_failed",
        "INVALID_STATE": "invalid_state",
        "INVALID_TRIGGER": "invalid_trigger",
        "TERMINAL_STATE": "terminal_state",
        "TIMEOUT": "timeout",
        "CONFIG": "config",
        "ACTION_FAILED": "action_failed",
        "STALE_VERSION": "stale_version",
        "GUARD_NOT_FOUND": "guard_not_found",
        "ACTION_NOT_FOUND": "action_not_found",
        "UNDEFINED_STATE": "undefined_state",
    }
    assert {m.name: m.value for m in impl.ErrorCode} == expected
    assert impl.ErrorCode.ACTION_NOT_FOUND == "action_not_found"
    assert isinstance(impl.ErrorCode.CONFIG, str)


def test_fsm_error_basic(impl):
    e = impl.FSMError("went wrong")
    assert isinstance(e, Exception)
    assert e.message == "went wrong"
    assert e.context == {}
    assert e.code is None
    assert e.args == ("went wrong",)
    assert str(e) == "went wrong"


def test_fsm_error_with_context_and_code(impl):
    e = impl.FSMError("bad", {"state": "idle", "n": 2}, code=impl.ErrorCode.INVALID_STATE)
    assert e.context == {"state": "idle", "n": 2}
    assert e.code is impl.ErrorCode.INVALID_STATE
    assert str(e) == "bad (state='idle', n=2)"
    assert e.to_dict() == {
        "type": "FSMError",
        "message": "bad",
        "code": "invalid_state",
        "context": {"state": "idle", "n": 2},
    }


def test_fsm_error_code_is_keyword_only(impl):
    with pytest.raises(TypeError):
        impl.FSMError("m", None, impl.ErrorCode.CONFIG)


def test_fsm_error_to_dict_without_code_and_subclass_name(impl):
    assert impl.FSMError("m").to_dict() == {
        "type": "FSMError",
        "message": "m",
        "code": None,
        "context": {},
    }

    class MyError(impl.FSMError):
        pass

    assert MyError("x").to_dict()["type"] == "MyError"


def test_fsm_error_can_be_raised_and_pickled(impl):
    with pytest.raises(impl.FSMError, match="^boom$"):
        raise impl.FSMError("boom")
    e = pickle.loads(pickle.dumps(impl.FSMError("m", {"k": 1}, code=impl.ErrorCode.TIMEOUT)))
    assert (e.message, e.context, e.code) == ("m", {"k": 1}, impl.ErrorCode.TIMEOUT)


# ---------------------------------------------------------------------------
# ActionNotFoundError
# ---------------------------------------------------------------------------


def test_action_not_found_error(impl):
    e = impl.ActionNotFoundError("Action 'x' not found", "x")
    assert isinstance(e, impl.FSMError)
    assert isinstance(e, Exception)
    assert e.message == "Action 'x' not found"
    assert e.action_name == "x"
    assert e.context == {"action_name": "x"}
    assert e.code is impl.ErrorCode.ACTION_NOT_FOUND
    assert str(e) == "Action 'x' not found (action_name='x')"
    assert e.to_dict() == {
        "type": "ActionNotFoundError",
        "message": "Action 'x' not found",
        "code": "action_not_found",
        "context": {"action_name": "x"},
    }


def test_action_not_found_error_keywords_and_context(impl):
    e = impl.ActionNotFoundError(message="m", action_name="y", context={"k": 1})
    assert e.context == {"k": 1, "action_name": "y"}
    assert list(e.context) == ["k", "action_name"]
    assert str(e) == "m (k=1, action_name='y')"
    assert impl.ActionNotFoundError("m", "z", None).context == {"action_name": "z"}


def test_action_not_found_error_adds_action_name_to_given_context_dict(impl):
    # pystator stores (and updates) the very dict it is given
    ctx = {"k": 1}
    e = impl.ActionNotFoundError("m", "y", ctx)
    assert e.context is ctx
    assert ctx == {"k": 1, "action_name": "y"}


def test_action_not_found_error_requires_action_name(impl):
    with pytest.raises(TypeError):
        impl.ActionNotFoundError("m")


def test_action_not_found_error_is_caught_as_fsm_error(impl):
    with pytest.raises(impl.FSMError) as info:
        raise impl.ActionNotFoundError("m", "x")
    assert info.value.action_name == "x"


# ---------------------------------------------------------------------------
# is_transient_error
# ---------------------------------------------------------------------------


class _MyIOError(OSError):
    pass


class _MyTimeout(TimeoutError):
    pass


@pytest.mark.parametrize(
    "exc",
    [
        OSError("io"),
        ConnectionError(),
        TimeoutError(),
        ConnectionResetError(),
        ConnectionRefusedError(),
        BrokenPipeError(),
        FileNotFoundError(),
        PermissionError(),
        asyncio.TimeoutError(),
        TimeoutError(),
        _MyIOError(),
        _MyTimeout(),
    ],
)
def test_transient_errors(impl, exc):
    assert impl.is_transient_error(exc) is True


@pytest.mark.parametrize(
    "exc",
    [
        ValueError(),
        RuntimeError(),
        KeyError("k"),
        TypeError(),
        Exception(),
        asyncio.CancelledError(),
        KeyboardInterrupt(),
    ],
)
def test_permanent_errors(impl, exc):
    assert impl.is_transient_error(exc) is False


def test_fsm_errors_are_not_transient(impl):
    assert impl.is_transient_error(impl.FSMError("m")) is False
    assert impl.is_transient_error(impl.ActionNotFoundError("m", "x")) is False


@pytest.mark.parametrize("name", ["ActionSpec", "ActionResult", "ActionExecutor"])
def test_signatures_show_pystators_defaults(fs, ps, name):
    """inspect.signature (and help()) show the defaults pystator's classes have
    (``params`` aside: pystator's is a dict factory, shown here as None)."""

    def defaults(cls):
        return {
            p.name: p.default
            for p in inspect.signature(cls).parameters.values()
            if p.default is not inspect.Parameter.empty and p.name != "params"
        }

    ours, theirs = defaults(getattr(fs, name)), defaults(getattr(ps, name))
    assert list(ours) == list(theirs)
    assert {k: str(v) for k, v in ours.items()} == {k: str(v) for k, v in theirs.items()}
