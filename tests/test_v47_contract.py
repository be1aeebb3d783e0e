"""ferrostator.v47 (pystator 0.0.47's contract) where pystator 0.0.47 is not installed.

The comparison with pystator 0.0.47 itself runs in .venvs/v47 (``make test-v47``:
pystator's own tests, ``tests_v47/``). Here: what the contract does on its own, that it
needs no pystator for it, that the seed contract beside it is untouched, and the error
that says to install pystator when a spec needs pystator's own machinery.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import logging
import types

import pytest
from conftest import caplog_records

import ferrostator
import ferrostator.expressions
import ferrostator.v47 as v47

# pystator 0.0.25 (the seed's reference, installed in .venv) lacks these modules.
_NO_PYSTATOR_47 = importlib.util.find_spec("pystator") is None or not all(
    importlib.util.find_spec(m) for m in ("pystator._expr", "pystator.http_action")
)
needs_no_pystator_47 = pytest.mark.skipif(
    not _NO_PYSTATOR_47, reason="pystator 0.0.47 is installed here"
)


def _executor(**kwargs: object) -> v47.ActionExecutor:
    registry = v47.ActionRegistry()
    registry.register("kw", lambda ctx, **params: sorted(params.items()))
    registry.register("only", lambda ctx, *, n=0: n * 2)
    registry.register("plain", lambda ctx: "plain")

    async def akw(ctx, **params):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        return params

    registry.register("akw", akw)
    return v47.ActionExecutor(registry, **kwargs)  # type: ignore[arg-type]


def test_params_go_as_keyword_arguments_and_never_into_the_context() -> None:
    executor = _executor(log_execution=False)
    ctx: dict = {}
    specs = [
        v47.ActionSpec("kw", params={"b": 2, "a": 1}),
        v47.ActionSpec("only", params={"n": 21}),
        v47.ActionSpec("plain"),
    ]
    results = executor.execute_action_specs(specs, ctx)
    assert [r.result for r in results] == [[("a", 1), ("b", 2)], 42, "plain"]
    assert ctx == {}
    tr = v47.TransitionResult.success_result(
        "a", "b", "go", actions=(v47.ActionSpec("akw", params={"x": 1}),)
    )
    for run in (
        executor.async_execute,
        executor.async_execute_parallel,
        executor.async_execute_phased,
    ):
        result = asyncio.run(run(tr, ctx))
        assert [r.result for r in result.action_results] == [{"x": 1}]
    assert ctx == {}


def test_params_for_a_plain_callable_fail_uncalled(caplog: pytest.LogCaptureFixture) -> None:
    calls = []
    registry = v47.ActionRegistry()
    registry.register("plain", lambda ctx: calls.append(ctx))
    executor = v47.ActionExecutor(registry)
    # set_level, not at_level: the threaded run shares one caplog, and at_level's exit in one
    # thread would lower the level back while another thread is still logging.
    caplog.set_level(logging.INFO, logger="ferrostator.actions")
    result = executor.execute_action_spec(v47.ActionSpec("plain", params={"a": 1}, retry=2), {})
    assert calls == [] and isinstance(result.error, TypeError)
    assert (
        str(result.error)
        == "Action 'plain' has params but its callable does not accept keyword arguments"
    )
    assert [r.getMessage() for r in caplog_records(caplog)] == [
        "Action 'plain' failed with permanent error, skipping retries"
    ]


def test_an_exception_on_the_params_path_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = v47.ActionRegistry()

    def boom(ctx, **params):  # type: ignore[no-untyped-def]
        raise ValueError("boom")

    registry.register("boom", boom)
    executor = v47.ActionExecutor(registry)
    caplog.set_level(logging.INFO, logger="ferrostator.actions")  # not at_level: see above
    result = executor.execute_action_spec(v47.ActionSpec("boom", params={"a": 1}, retry=3), {})
    assert str(result.error) == "boom"
    (record,) = caplog_records(caplog)
    assert (record.levelname, record.getMessage()) == (
        "ERROR",
        "Action 'boom' raised exception: boom",
    )
    assert record.exc_info is not None


def test_registering_again_replaces_and_the_seed_still_refuses() -> None:
    registry = v47.ActionRegistry()
    registry.register("a", lambda ctx: 1)
    registry.register("a", lambda ctx, **kw: 2)
    assert registry.execute("a", {}).result == 2 and registry.accepts_kwargs("a")
    seed = ferrostator.ActionRegistry()
    seed.register("a", lambda ctx: 1)
    with pytest.raises(ValueError, match="already registered"):
        seed.register("a", lambda ctx: 2)


def test_skipped_is_not_a_success_under_v47_only() -> None:
    for module, expected in ((v47, (False, [])), (ferrostator, (True, ["ghost"]))):
        executor = module.ActionExecutor(module.ActionRegistry(), log_execution=False)
        tr = module.TransitionResult.success_result(
            "a", "b", "go", actions=(module.ActionSpec("ghost"),)
        )
        result = executor.execute(tr, {})
        assert (result.all_succeeded, result.succeeded_actions) == expected
    assert v47.ExecutionResult(tr, [v47.ActionResult.skipped("x")]).skipped_actions == ["x"]


def test_effects_check_types_under_v47_only() -> None:
    spec47 = v47.ActionSpec.from_config({"increment": "n"})
    seed = ferrostator.ActionSpec.from_config({"increment": "n"})
    result = v47.ActionExecutor(v47.ActionRegistry()).execute_action_spec(spec47, {"n": "x"})
    assert str(result.error) == "Cannot increment field 'n': expected a numeric value, got str"
    result = ferrostator.ActionExecutor(ferrostator.ActionRegistry()).execute_action_spec(
        seed, {"n": "x"}
    )
    assert isinstance(result.error, TypeError)  # str + int, Python's own message
    with pytest.raises(ValueError, match="Invalid action config"):
        ferrostator.ActionSpec.from_config({"compute": {"a": "1"}})
    assert v47.ActionSpec.from_config({"compute": {"a": "1"}}).effect == "compute"


@needs_no_pystator_47
def test_without_pystator_47_a_spec_needing_it_says_to_install_it() -> None:
    executor = v47.ActionExecutor(v47.ActionRegistry(), log_execution=False)
    expected = r"install pystator 0\.0\.47 to use it: pip install 'pystator==0\.0\.47'"
    with pytest.raises(ImportError, match=expected):
        executor.execute_action_spec(v47.ActionSpec.from_config({"http": {"url": "http://x"}}), {})
    try:  # and it says what is installed instead
        executor.execute_action_spec(v47.ActionSpec.from_config({"http": {"url": "http://x"}}), {})
    except ImportError as error:
        message = str(error)
    try:
        found = f"pystator {importlib.metadata.version('pystator')} is installed, which has none"
    except importlib.metadata.PackageNotFoundError:
        found = "pystator is not installed"
    assert found in message
    # `when` strings and `compute` run on ferrostator's expression engine: no pystator needed.
    assert ferrostator.expressions.native()
    skipped = executor.execute_action_spec(v47.ActionSpec("x", when="n > 1"), {"n": 1})
    assert skipped.status == v47.ActionStatus.SKIPPED
    compute = v47.ActionSpec.from_config({"compute": {"a": "n * 2", "b": "a + 1"}})
    context = {"n": 3}
    assert asyncio.run(executor.async_execute_action_spec(compute, context)).success
    assert context == {"n": 3, "a": 6, "b": 7}
    # Everything else runs without pystator 0.0.47.
    assert executor.execute_action_spec(v47.ActionSpec.from_config({"set": {"a": 1}}), {}).success


def _payload_reference(results: list) -> list[dict]:
    """pystator 0.0.47's ``action_results_to_payload``, written out: the rule the
    core's version must follow, through plain attribute reads."""
    rows = []
    for item in results:
        row = {
            "name": item.action_name,
            "status": item.status.value,
            "success": item.success,
            "skipped": item.is_skipped,
        }
        if item.error is not None:
            row["error"] = str(item.error)
        if item.result is not None:
            row["result"] = item.result
        rows.append(row)
    return rows


def test_payload_of_our_results_reads_what_attribute_access_reads() -> None:
    # The core reads its own results in one snapshot, and knows the statuses by
    # identity: it must give what the attributes say, after assignments too.
    class Subclass(v47.ActionResult):
        @property  # type: ignore[misc]
        def status(self):  # a subclass is read through its attributes
            return v47.ActionStatus.FAILED

    assigned = v47.ActionResult.ok("assigned", [1])
    assigned.status = v47.ActionStatus.SKIPPED
    assigned.error = KeyError("k")
    foreign = types.SimpleNamespace(
        action_name="foreign",
        status=v47.ActionStatus.OK,
        success=True,
        is_skipped=False,
        error=None,
        result={"r": 1},
    )
    results = [
        v47.ActionResult.ok("ok", {"v": 1}),
        v47.ActionResult.ok("none", None),
        v47.ActionResult.fail("failed", ValueError("bad")),
        v47.ActionResult.skipped("skipped", reason="when_condition_false"),
        assigned,
        Subclass("sub", True, result=0),
        foreign,
    ]
    payload = v47.action_results_to_payload(results)
    assert payload == _payload_reference(results)
    assert [row["status"] for row in payload] == [
        "ok",
        "ok",
        "failed",
        "skipped",
        "skipped",
        "failed",
        "ok",
    ]
    assert [type(row["skipped"]) for row in payload] == [bool] * len(results)
