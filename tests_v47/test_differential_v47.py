"""Differential test, pystator 0.0.47 mode: ferrostator.v47 against pystator 0.0.47.

Hypothesis draws scenarios: registered actions (sync or async; taking the context
only, ``**kwargs`` or keyword-only params; failing their first k calls with a
transient or permanent error), specs written as pystator's config dicts (named
actions with params, retry and backoff; effects including ``compute`` and the type
errors of increment/append; ``branch`` specs nesting up to two deep; names not
registered), each with or without a ``when`` (expression string, check dict, or one
that fails to evaluate), and one entry point (sync or async, sequential, parallel or
phased; ``stop_on_error`` on or off). Each scenario runs through both
implementations, which must agree on everything observable: the results (name,
status, success, value, error type and message), an exception raised, the final
context, the actions' calls (with their keyword arguments) in order, the retry sleeps
requested, and the log records (level, message).

Runs in .venvs/v47 (``make test-v47``), where pystator 0.0.47 is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pystator_actions = pytest.importorskip("pystator.actions")
pystator_types = pytest.importorskip("pystator._types")

import ferrostator.v47 as fv47  # noqa: E402

settings.register_profile("v47", max_examples=150, deadline=None, derandomize=True)
settings.load_profile("v47")

IMPLS = {
    "pystator": (
        pystator_actions.ActionRegistry,
        pystator_actions.ActionExecutor,
        pystator_types.ActionSpec,
    ),
    "ferrostator": (fv47.ActionRegistry, fv47.ActionExecutor, fv47.ActionSpec),
}
LOGGERS = ("pystator.actions", "ferrostator.actions")
ENTRIES = (
    "execute",
    "execute_action_specs",
    "async_execute",
    "async_execute_parallel",
    "async_execute_phased",
)
ERRORS = {
    "ConnectionError": ConnectionError,
    "ValueError": ValueError,
    "TimeoutError": TimeoutError,
}


@dataclass(frozen=True)
class ActionDef:
    name: str
    shape: str  # "ctx", "kwargs" (**params) or "kwonly" (*, p=0, q=0)
    is_async: bool
    fail_first: int
    error: str


@dataclass(frozen=True)
class Scenario:
    actions: tuple[ActionDef, ...]
    specs: tuple[Any, ...]  # pystator config dicts / names
    entry: str
    stop_on_error: bool


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------

# Mostly no condition; one in twelve fails to evaluate (its error propagates).
WHENS = st.sampled_from(
    [None] * 6
    + [
        "n >= 1",
        "n < 1",
        {"field": "n", "op": "gte", "value": 0},
        {"field": "n", "op": "gt", "value": 5},
        "undefined_name > 1",
    ]
)
EFFECTS = st.sampled_from(
    [
        {"increment": "n"},
        {"decrement": "n"},
        {"set": {"flag": True, "label": "x"}},
        {"append": {"field": "items", "value": 1}},
        {"append": {"field": "label", "value": 2}},  # not a list once set
        {"increment": "label"},  # a str once set
        {"compute": {"double": "n * 2"}},
        {"clear": "flag"},
        {"timestamp": "stamped"},
    ]
)


def action_defs() -> st.SearchStrategy[tuple[ActionDef, ...]]:
    one = st.builds(
        ActionDef,
        name=st.just(""),
        shape=st.sampled_from(["ctx", "kwargs", "kwonly"]),
        is_async=st.booleans(),
        fail_first=st.integers(0, 2),
        error=st.sampled_from(sorted(ERRORS)),
    )
    return st.lists(one, min_size=1, max_size=4).map(
        lambda defs: tuple(
            ActionDef(f"a{i}", d.shape, d.is_async, d.fail_first, d.error)
            for i, d in enumerate(defs)
        )
    )


@st.composite
def spec_configs(draw: Any, names: tuple[str, ...], depth: int = 0) -> Any:
    kinds = ["named", "named", "named", "effect", "missing", "bare"] + (
        ["branch"] if depth < 2 else []
    )
    kind = draw(st.sampled_from(kinds))
    if kind == "bare":
        return draw(st.sampled_from(names))
    config: dict[str, Any]
    if kind == "named":
        config = {"name": draw(st.sampled_from(names))}
        params = draw(st.sampled_from([None, {"p": 1}, {"p": 2, "q": 3}]))
        if params is not None:
            config["params"] = params
        config["retry"] = draw(st.integers(0, 2))
        config["retry_backoff"] = draw(st.sampled_from([0, 0.5, 1]))
    elif kind == "missing":
        config = {"name": "missing"}
    elif kind == "effect":
        config = dict(draw(EFFECTS))
    else:
        branch: dict[str, Any] = {"when": draw(WHENS.filter(lambda w: w is not None))}
        if draw(st.booleans()):
            branch["when"] = "n >= 1"
        for key in ("then", "else"):
            if draw(st.booleans()):
                branch[key] = draw(st.lists(spec_configs(names, depth + 1), max_size=2))
        config = {"branch": branch}
    when = draw(WHENS)
    if when is not None:
        config["when"] = when
    return config


@st.composite
def scenarios(draw: Any) -> Scenario:
    actions = draw(action_defs())
    names = tuple(a.name for a in actions)
    specs = tuple(draw(st.lists(spec_configs(names), min_size=1, max_size=5)))
    return Scenario(actions, specs, draw(st.sampled_from(ENTRIES)), draw(st.booleans()))


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def make_action(defn: ActionDef, events: list[Any]) -> Any:
    calls = [0]

    def body(ctx: dict[str, Any], params: dict[str, Any]) -> Any:
        calls[0] += 1
        events.append(("call", defn.name, calls[0], tuple(sorted(params.items()))))
        ctx[f"calls_{defn.name}"] = calls[0]
        if calls[0] <= defn.fail_first:
            raise ERRORS[defn.error](f"{defn.name} failed #{calls[0]}")
        return f"{defn.name}:{calls[0]}"

    if defn.shape == "ctx":
        if defn.is_async:

            async def action(ctx):  # type: ignore[no-untyped-def]
                return body(ctx, {})
        else:

            def action(ctx):  # type: ignore[no-untyped-def]
                return body(ctx, {})
    elif defn.shape == "kwargs":
        if defn.is_async:

            async def action(ctx, **params):  # type: ignore[no-untyped-def]
                return body(ctx, params)
        else:

            def action(ctx, **params):  # type: ignore[no-untyped-def]
                return body(ctx, params)
    elif defn.is_async:

        async def action(ctx, *, p=0, q=0):  # type: ignore[no-untyped-def]
            return body(ctx, {"p": p, "q": q})
    else:

        def action(ctx, *, p=0, q=0):  # type: ignore[no-untyped-def]
            return body(ctx, {"p": p, "q": q})

    return action


class Capture(logging.Handler):
    def __init__(self, events: list[Any]) -> None:
        super().__init__(logging.DEBUG)
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(("log", record.levelname, record.getMessage()))


def norm(value: Any) -> Any:
    if isinstance(value, BaseException):
        return ("exc", type(value).__name__, str(value))
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items() if k != "stamped"} | (
            {"stamped": "<timestamp>"} if "stamped" in value else {}
        )
    if isinstance(value, list | tuple):
        return [norm(v) for v in value]
    return value


def norm_result(r: Any) -> tuple:
    return (r.action_name, r.status.value, r.success, norm(r.result), norm(r.error))


def observe(impl: str, sc: Scenario) -> dict[str, Any]:
    registry_cls, executor_cls, spec_cls = IMPLS[impl]
    events: list[Any] = []
    registry = registry_cls()
    for defn in sc.actions:
        registry.register(defn.name, make_action(defn, events))
    executor = executor_cls(registry, stop_on_error=sc.stop_on_error)
    ctx: dict[str, Any] = {"n": 1}
    out: dict[str, Any] = {}

    def sleep(delay: float) -> None:
        events.append(("sleep", delay))

    async def async_sleep(delay: float, *args: Any) -> None:
        events.append(("sleep", delay))

    handler = Capture(events)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        specs = tuple(spec_cls.from_config(c) for c in sc.specs)
        split = len(specs) > 2
        tr = pystator_types.TransitionResult.success_result(
            "a", "b", "go", actions=specs[1:-1] if split else specs,
            on_exit=specs[:1] if split else (), on_enter=specs[-1:] if split else (),
        )  # fmt: skip
        if impl == "ferrostator":
            tr = fv47.TransitionResult(**{f: getattr(tr, f) for f in tr.__dataclass_fields__})
        with mock.patch("time.sleep", sleep), mock.patch("asyncio.sleep", async_sleep):
            try:
                if sc.entry == "execute":
                    out["results"] = [
                        norm_result(r) for r in executor.execute(tr, ctx).action_results
                    ]
                elif sc.entry == "execute_action_specs":
                    out["results"] = [
                        norm_result(r) for r in executor.execute_action_specs(specs, ctx)
                    ]
                else:
                    result = asyncio.run(getattr(executor, sc.entry)(tr, ctx))
                    out["results"] = [norm_result(r) for r in result.action_results]
                    out["flags"] = (
                        result.all_succeeded,
                        result.succeeded_actions,
                        result.failed_actions,
                        result.skipped_actions,
                    )
            except Exception as exc:
                out["raised"] = norm(exc)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    out["context"] = norm(ctx)
    out["events"] = events
    return out


@given(scenarios())
def test_v47_differential(scenario: Scenario) -> None:
    ref = observe("pystator", scenario)
    cand = observe("ferrostator", scenario)
    assert cand == ref


def test_payload_and_results_match() -> None:
    rows = []
    for impl in ("pystator", "ferrostator"):
        registry_cls, executor_cls, spec_cls = IMPLS[impl]
        registry = registry_cls()
        registry.register("ok", lambda ctx, **kw: kw or None)
        registry.register("bad", lambda ctx: 1 / 0)
        executor = executor_cls(registry, log_execution=False)
        specs = [
            spec_cls(name="ok", params={"x": 1}),
            spec_cls(name="bad"),
            spec_cls(name="ghost"),
            spec_cls.from_config({"name": "ok", "when": "n > 5"}),
        ]
        results = executor.execute_action_specs(specs, {"n": 1})
        payload = (fv47 if impl == "ferrostator" else pystator_actions).action_results_to_payload(
            results
        )
        rows.append(payload)
    assert rows[0] == rows[1]


# ---------------------------------------------------------------------------
# Hand-written cases: the built-in actions and the keyword params path's quirks
# ---------------------------------------------------------------------------


def _nested_branch(depth: int) -> dict[str, Any]:
    config: dict[str, Any] = {"set": {"deep": True}}
    for _ in range(depth):
        config = {"branch": {"when": {"field": "n", "op": "gte", "value": 0}, "then": [config]}}
    return config


CASES = {
    "branch at the depth limit": Scenario((), (_nested_branch(8),), "execute", False),
    "branch past the depth limit": Scenario((), (_nested_branch(9),), "async_execute", False),
    "branch with a bad when and steps": Scenario(
        (),
        (
            {"branch": {"when": 3, "then": [{"set": {"x": 1}}]}},
            {"branch": {"when": "n >= 1", "then": "not a list"}},
            {"branch": {"when": "n >= 1", "then": [{"bogus": 1}]}},
            {"branch": {"when": "n > 5"}},
        ),
        "async_execute_phased",
        False,
    ),
    "kwargs action raising TimeoutError, async, retried": Scenario(
        (ActionDef("a0", "kwargs", True, 1, "TimeoutError"),),
        ({"name": "a0", "params": {"p": 1}, "timeout": 0.5, "retry": 2},),
        "async_execute",
        False,
    ),
    "kwargs action raising TimeoutError, sync, retried": Scenario(
        (ActionDef("a0", "kwonly", False, 2, "TimeoutError"),),
        ({"name": "a0", "params": {"q": 1}, "retry": 2, "retry_backoff": 0.5},),
        "execute",
        False,
    ),
    "async kwargs action on the sync path": Scenario(
        (ActionDef("a0", "kwargs", True, 0, "ValueError"),),
        ({"name": "a0", "params": {"p": 1}, "retry": 2},),
        "execute_action_specs",
        False,
    ),
    "params refused with retries left": Scenario(
        (ActionDef("a0", "ctx", False, 0, "ValueError"),),
        ({"name": "a0", "params": {"p": 1}, "retry": 2},),
        "async_execute_parallel",
        False,
    ),
    "code action with a timeout": Scenario(
        (), ({"code": "ctx['x'] = 1", "timeout": 1},), "execute", False
    ),
}


@pytest.mark.parametrize("scenario", list(CASES.values()), ids=list(CASES))
def test_v47_case(scenario: Scenario) -> None:
    assert observe("ferrostator", scenario) == observe("pystator", scenario)


class _Response:
    status = 201

    def read(self) -> bytes:
        return b'{"ok": true}'


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("outcome", ["ok", "fails"])
def test_v47_http_and_code_actions(
    entry: str, outcome: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # no pystator.cfg around
    monkeypatch.setenv("PYSTATOR_ALLOW_INLINE_CODE_ACTIONS", "1")
    monkeypatch.delenv("PYSTATOR_ALLOW_INLINE_CODE_IMPORTS", raising=False)
    specs = (
        {
            "http": {
                "url": "http://example.invalid/orders/{{ n }}",
                "body": {"n": "{{ n }}"},
                "on_error": "fail",
                "on_success": {"status_key": "status", "body_key": "body"},
            },
            "retry": 2,
            "retry_backoff": 0.25,
        },
        {"code": "ctx['coded'] = ctx['n'] + 1"},
        {"code": {"source": "raise ValueError('no')", "retry": 1}},
        {"http": {"url": "http://example.invalid/x", "on_error": "log"}, "when": "n > 5"},
    )
    scenario = Scenario((), specs, entry, False)
    calls: list[Any] = []

    def urlopen(request: Any, timeout: float) -> contextlib.nullcontext[_Response]:
        calls.append((request.full_url, request.data, timeout))
        if outcome == "fails":
            raise ConnectionError("refused")
        return contextlib.nullcontext(_Response())

    with mock.patch("pystator.http_action.urllib.request.urlopen", urlopen):
        ref = observe("pystator", scenario)
        ref_calls, calls[:] = list(calls), []
        cand = observe("ferrostator", scenario)
    if entry in ("async_execute_parallel", "async_execute_phased"):
        # _http and _code run in worker threads (asyncio.to_thread), concurrently in a
        # batch: the order of their events is the threads', in either implementation.
        for seen in (ref, cand):
            seen["events"] = sorted(seen["events"], key=repr)
        calls.sort(key=repr)
        ref_calls.sort(key=repr)
    assert cand == ref
    assert calls == ref_calls and calls
