"""Machines whose behaviour hangs on pystator's expressions (simpleeval), run by
pystator's own engine, for the expression differential tests
(tests/test_expr_engine_differential.py for pystator 0.0.25,
tests_v47/test_expr_engine_v47.py for 0.0.47).

Two claim-handling machines over the same states (draft -> review -> approved / escalated
/ rejected -> paid), one per contract:

- ``seed_machine_config()`` (0.0.25): every guard is an inline ``expr`` — comparison
  chains, ``and`` / ``or`` / ternaries, ``in``, attribute and item access, string
  methods, f-strings, Decimal and string values, the guard builtins; some raise for some
  claims (a context key missing: simpleeval's NameNotDefined; a zero divisor, a str
  compared with an int, an empty sequence given to ``max``, an unknown function, a
  syntax error, an empty expression, a refused attribute, a number or string too big)
  and some warn (an assignment, two statements). The ``probe`` trigger tries one
  expression per transition, in order, until one passes.
- ``v47_machine_config()`` (0.0.47): the same kind of guards (with 0.0.47's larger
  builtin table), plus actions with ``when`` strings, a ``_branch`` action whose
  ``when`` is an expression and whose steps have their own, ``compute`` effects (later
  keys use earlier ones; one fails part-way) and an ``_http`` action whose url, headers
  and body are ``{{ }}`` templates (see ``stub_http``). A ``when`` that raises (a key
  some claims lack) escapes the executor, and so ``process_event``, mid-stream.

Each run gives comparable values only: transition outcomes (with the exception an entry
point raised: type and message), the executions' results, what the actions saw, the
store's final states and contexts, and the HTTP requests made.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import random
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pystator

TRIGGERS = ("submit", "approve", "reject", "escalate", "reopen", "pay", "probe")

Config = dict[str, Any]
Stream = list[tuple[str, str, dict[str, Any]]]
Outcome = dict[str, Any]

# Tried in order by ``probe`` (one transition each, review -> review) until one passes:
# each that raises is logged by pystator's guard evaluator (exception message included)
# and counts as failed. Most are false, or raise, for most claims.
PROBES_SEED = (
    "0 <= attempts < 3 < limit < amount",  # comparison chain; NameNotDefined without limit
    "f'{customer[\"name\"]}-{qty}' == 'Ada-30'",  # f-string, nested quotes
    "amount / divisor > 10**6",  # ZeroDivisionError when divisor == 0
    "amount > 'x'",  # TypeError for a number, a string comparison for a str
    "max(items) > 50",  # ValueError for an empty list
    "round(amount) > 1",  # not in 0.0.25's table: FunctionNotDefined
    "amount.__class__",  # FeatureNotAvailable
    "[i for i in items]",  # FeatureNotAvailable (ListComp)
    "2 ** 99999999 > amount",  # NumberTooHigh
    "'ab' * 60000 == reason",  # IterableTooLong
    "amount >",  # SyntaxError
    "",  # InvalidExpression (empty)
    "flag = amount > 10**6",  # AssignmentAttempted warning; the right side's value
    "amount < 0; amount > 0",  # MultipleExpressions warning; the first one's value
    "customer.tier.upper() == 'GOLD' and _event.trigger != 'probe'",
    "price * qty > cap",  # Decimal * int against Decimal (floats for one claim)
    "str(price) == '19.990' or price == 19.99",  # Decimal against str and float
    "abs(-amount) + sum(items) - min(items or [0]) < 0",  # [0] refused, when reached
    "customer['tier'] not in ('gold',)",  # Tuple: refused
    "limit is None and not (reason and status == 'flagged')",
    "-amount // 7 % 3 == 1 or amount & 1 | 2 ^ 4 == 7 or ~amount << 2 >> 1 > 0",
    "items[1:][::-1][0] > 100 if len(items) > 1 else items[-1]",  # IndexError for []
    "{'a': 1}.get(reason, 0) or 0.5 * 3 >= 1.5e0",  # Dict: refused
    "_entity_id.endswith('-gold') and len(probes) < 2 and not seen",
    "True",
)

# 0.0.47's table adds round, any, all, bool, ...
PROBES_V47 = tuple(
    "round(price * qty, 1) > cap and any(items) and bool(reason)" if p == "round(amount) > 1" else p
    for p in PROBES_SEED[:-1]
) + ("sqrt(amount) > 1", "True")  # not in 0.0.47's table either: FunctionNotDefined


def _claim_states() -> list[dict[str, Any]]:
    return [
        {"name": "draft", "type": "initial"},
        {"name": "review", "type": "stable"},
        {"name": "approved", "type": "stable"},
        {"name": "escalated", "type": "stable"},
        {"name": "rejected", "type": "stable"},
        {"name": "paid", "type": "terminal"},
    ]


def _guarded_transitions(probes: tuple[str, ...]) -> list[dict[str, Any]]:
    """The guards shared by both machines (actions are added per contract)."""
    return [
        {
            "trigger": "submit",
            "source": "draft",
            "dest": "review",
            "guards": [{"expr": "amount > 0 and len(items) >= 1"}],
        },
        {
            "trigger": "approve",
            "source": "review",
            "dest": "approved",
            "guards": [
                {"expr": "0 < amount <= limit"},
                {"expr": "customer['tier'] in 'gold/silver' or score >= 700"},
            ],
        },
        {
            "trigger": "approve",
            "source": "review",
            "dest": "escalated",
            "guards": [{"expr": "amount > limit if limit is not None else amount > 10000"}],
        },
        {
            "trigger": "reject",
            "source": "review",
            "dest": "rejected",
            "guards": [
                {
                    "anyOf": [
                        {"expr": "status == 'flagged'"},
                        {"expr": "reason != '' and reason.upper() == 'FRAUD'"},
                    ]
                }
            ],
        },
        {
            "trigger": "escalate",
            "source": "review",
            "dest": "escalated",
            "guards": [
                {"not": {"expr": "customer.tier == 'gold'"}},
                {"allOf": [{"expr": "amount >= 100"}, {"expr": "status != 'closed'"}]},
            ],
        },
        {
            "trigger": "reopen",
            "source": ["approved", "escalated", "rejected"],
            "dest": "review",
            "guards": [{"expr": "attempts < 3"}],
        },
        {
            "trigger": "pay",
            "source": "approved",
            "dest": "paid",
            "guards": [
                {"expr": "price * qty <= cap"},
                {"expr": "max(items) - min(items) < 10 if items else False"},
            ],
        },
    ] + [
        {"trigger": "probe", "source": "review", "dest": "review", "guards": [{"expr": p}]}
        for p in probes
    ]


def seed_machine_config(name: str = "claims") -> Config:
    """The pystator 0.0.25 machine: expression guards, plain actions and effects."""
    transitions = _guarded_transitions(PROBES_SEED)
    actions: dict[tuple[str, str], list[Any]] = {
        ("approve", "approved"): ["record", {"increment": "approvals"}],
        ("approve", "escalated"): ["record"],
        ("reopen", "review"): [{"increment": "attempts"}, "record"],
        ("pay", "paid"): [{"name": "record", "params": {"final": True}}],
        ("probe", "review"): [{"append": {"field": "probes", "value": "hit"}}],
    }
    for transition in transitions:
        transition["actions"] = actions.get((transition["trigger"], transition["dest"]), [])
    return {
        "meta": {"machine_name": name, "version": "1.0.0", "strict_mode": False},
        "states": _claim_states(),
        "transitions": transitions,
    }


# 0.0.47: what the actions add on top of the guards.
COMPUTE_TOTALS = {
    "compute": {
        "subtotal": "price * qty",
        "tax": "subtotal * tax_rate",
        "total": "subtotal + tax",
        "label": "f'{customer[\"name\"]}:{total}'",
        "big": "total > cap",
    }
}
# Fails at `ratio` (ZeroDivisionError, or NameNotDefined without a divisor): `before`
# is set, `after` is not.
COMPUTE_PARTIAL = {
    "compute": {"before": "qty + 1", "ratio": "total / divisor", "after": "ratio * 2"}
}
HTTP_NOTIFY = {
    "http": {
        "url": (
            "https://claims.example.invalid/{{ _entity_id }}/pay?total={{ total }}&n={{len(items)}}"
        ),
        "method": "put",
        "headers": {
            "X-Tier": "{{ customer['tier'].upper() }}",
            "X-Missing": "{{ nope }} and {{ 1/0 }}",
            "X-Plain": "plain",
            "X-Both": "{{ qty }}{{qty*2}} {{ 'big' if big else 'small' }}",
        },
        "body": {
            "id": "{{ _entity_id }}",
            "items": ["{{ items[0] }}", "{{ items }}", 3, None],
            "nested": {"total": "{{ total }}", "ratio": "{{ round(total / divisor, 2) }}"},
            "literal": "{ not a template }",
        },
        "timeout": 3,
        "on_error": "fail",
        "on_success": {"status_key": "http_status", "body_key": "http_body"},
    },
    "when": "total > 0",
}
HTTP_TEXT = {
    "http": {
        "url": "https://claims.example.invalid/log/{{ status }}",
        "body": (
            "claim {{ _entity_id }} by {{ customer.name }}: {{ reason or 'n/a' }} {{ unknown }}"
        ),
        "on_error": "log",
    },
    "when": "status != 'closed'",
}
BRANCH_REVIEW = {
    "branch": {
        "when": "total > cap or customer['tier'] == 'gold'",
        "then": [
            {"set": {"lane": "priority"}},
            {"name": "record", "params": {"lane": "priority"}, "when": "customer.tier == 'gold'"},
            {"compute": {"score_band": "'high' if score >= 700 else 'low'"}, "when": "score"},
        ],
        "else": [
            {"set": {"lane": "standard"}},
            {"branch": {"when": "len(items) > 2", "then": ["record"], "else": [COMPUTE_PARTIAL]}},
        ],
    }
}


def v47_machine_config(name: str = "claims") -> Config:
    """The pystator 0.0.47 machine: expression guards, ``when`` strings, ``_branch``,
    ``compute`` and ``_http``."""
    transitions = _guarded_transitions(PROBES_V47)
    actions: dict[tuple[str, str], list[Any]] = {
        ("submit", "review"): [COMPUTE_TOTALS, {"name": "record", "when": "amount >= 100"}],
        ("approve", "approved"): [
            COMPUTE_TOTALS,
            BRANCH_REVIEW,
            {"increment": "approvals", "when": "approvals < 2 if 'approvals' in seen else True"},
        ],
        ("approve", "escalated"): [{"name": "record", "when": "vip_level >= 2"}],
        ("escalate", "escalated"): [
            {"set": {"lane": "escalated"}},
            # NameNotDefined for claims without a vip_level: raised mid-stream, after the
            # step before it changed the context.
            {"name": "record", "params": {"why": "vip"}, "when": "vip_level >= 2"},
        ],
        ("reopen", "review"): [{"increment": "attempts"}, COMPUTE_PARTIAL],
        ("pay", "paid"): [COMPUTE_TOTALS, HTTP_NOTIFY, HTTP_TEXT, "record"],
        ("reject", "rejected"): [
            {"branch": {"when": "reason.lower() == 'fraud'", "then": [HTTP_TEXT]}},
        ],
        ("probe", "review"): [
            {"append": {"field": "probes", "value": "hit"}, "when": "len(probes) < 3"}
        ],
    }
    for transition in transitions:
        transition["actions"] = actions.get((transition["trigger"], transition["dest"]), [])
    return {
        "meta": {"machine_name": name, "version": "1.0.0", "strict_mode": False},
        "states": _claim_states(),
        "transitions": transitions,
    }


# ---------------------------------------------------------------------------
# Claims and the event stream
# ---------------------------------------------------------------------------


def claims() -> dict[str, dict[str, Any]]:
    """Each claim's first event context: some complete, some missing a key an
    expression reads, some with values an expression cannot use."""
    base: dict[str, Any] = {
        "amount": 500,
        "limit": 1000,
        "customer": {"tier": "gold", "name": "Ada"},
        "score": 650,
        "items": [1, 2, 3],
        "price": Decimal("19.99"),
        "qty": 3,
        "cap": Decimal("100.00"),
        "tax_rate": Decimal("0.2"),
        "divisor": 4,
        "status": "ok",
        "reason": "",
        "attempts": 0,
        "probes": [],
        "seen": {},
        "vip_level": 3,
        "total": Decimal("12.5"),
    }

    def claim(**changes: Any) -> dict[str, Any]:
        out = {**base, **changes}
        return {k: v for k, v in out.items() if v is not _DROP}

    return {
        "c-gold": claim(),
        "c-silver-over": claim(amount=5000, customer={"tier": "silver", "name": "Bo"}),
        "c-no-limit": claim(limit=_DROP, vip_level=_DROP),
        "c-none-limit": claim(limit=None, amount=20000, score=710),
        "c-decimal": claim(price=Decimal("33.34"), customer={"tier": "bronze", "name": "Cy"}),
        "c-flagged": claim(status="flagged", reason="fraud", score=None),
        "c-fraud-text": claim(reason="Fraud", customer={"tier": "silver", "name": "Di"}),
        "c-zero-div": claim(divisor=0, vip_level=1),
        "c-str-amount": claim(amount="900", items=[5, 1]),
        "c-empty-items": claim(items=[], amount=250),
        "c-no-tier": claim(customer={"name": "Ed"}, score=720, amount=150, vip_level=_DROP),
        "c-float": claim(price=19.99, cap=60.0, tax_rate=0.5, amount=99.5, qty=2),
        "c-big": claim(amount=10**7, limit=10**6, items=[1, 20], divisor=_DROP),
        "c-bool": claim(amount=True, qty=False, reason="x" * 5, attempts=2),
    }


_DROP = object()

# Later events patch a claim with one of these (or nothing).
PATCHES: tuple[dict[str, Any], ...] = (
    {},
    {},
    {},
    {"amount": 50},
    {"amount": 1500},
    {"limit": 2000},
    {"status": "flagged"},
    {"status": "closed"},
    {"reason": "FRAUD"},
    {"divisor": 0},
    {"items": []},
    {"items": [2, 4, 9]},
    {"price": Decimal("0.01")},
    {"customer": {"tier": "gold", "name": "Ada"}},
    {"score": 800},
    {"seen": {"approvals": 1}},
)


def events(count: int, seed: int) -> Stream:
    """A seeded stream of (claim id, trigger, event context): each claim's first event
    submits it with its whole context, later ones carry a patch; a third of the
    triggers are ``probe``, the others any (those that do not apply are rejected)."""
    rng = random.Random(seed)
    profiles = claims()
    ids = sorted(profiles)
    started: set[str] = set()
    out: Stream = []
    weights = [1, 3, 2, 2, 2, 3, 7]  # TRIGGERS' order: probe is a third
    for _ in range(count):
        entity = rng.choice(ids)
        if entity not in started:
            started.add(entity)
            trigger, context = "submit", copy.deepcopy(profiles[entity])
        else:
            trigger = rng.choices(TRIGGERS, weights)[0]
            context = copy.deepcopy(rng.choice(PATCHES))
        out.append((entity, trigger, context))
    return out


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


class Desk:
    """The one registered action, ``record``: logs what it saw (its params, in either
    contract's way, and the context keys the expressions touch)."""

    KEYS = ("amount", "total", "lane", "score_band", "before", "ratio", "after", "http_status")

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def record(self, ctx: dict[str, Any], **params: Any) -> str:
        params = params or ctx.get("_action_params") or {}
        seen = tuple((k, _plain(ctx[k])) for k in self.KEYS if k in ctx)
        self.log.append(("record", ctx.get("_entity_id"), _plain(dict(params)), seen))
        return f"recorded {len(self.log)}"


def _plain(value: Any) -> Any:
    """A comparable, deterministic form of a value: containers element by element,
    Events by their trigger, str and None as they are, anything else as its type's name
    and repr (``1 == True == 1.0 == Decimal(1)``: the type must be compared too)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, pystator.Event):
        return ("Event", value.trigger)
    if value is None or type(value) is str:
        return value
    return (type(value).__name__, repr(value))


def error_summary(error: BaseException | None) -> tuple[str, str] | None:
    """An exception as (module.qualname of its type, message)."""
    if error is None:
        return None
    cls = type(error)
    return (f"{cls.__module__}.{cls.__qualname__}", str(error))


def transition_summary(result: Any) -> tuple[Any, ...]:
    error = result.error
    return (
        result.success,
        result.source_state,
        result.target_state,
        result.trigger,
        error_summary(error),
        _plain(getattr(error, "context", None)),
        _plain(dict(result.metadata)),
    )


def execution_summary(execution: Any) -> tuple[Any, ...]:
    return (
        execution.transition_result.trigger,
        execution.transition_result.target_state,
        tuple(
            (
                r.action_name,
                r.success,
                str(r.status.value),
                _plain(r.result) if not asyncio.iscoroutine(r.result) else "<coroutine>",
                error_summary(r.error),
            )
            for r in execution.action_results
        ),
    )


class Recorder:
    """Wraps an engine's executor and keeps what each execution returned."""

    def __init__(self, inner: Any, sink: list[Any]) -> None:
        self.inner = inner
        self.sink = sink

    def execute(self, transition_result: Any, context: dict[str, Any]) -> Any:
        execution = self.inner.execute(transition_result, context)
        self.sink.append(execution_summary(execution))
        return execution

    async def async_execute(self, transition_result: Any, context: dict[str, Any]) -> Any:
        execution = await self.inner.async_execute(transition_result, context)
        self.sink.append(execution_summary(execution))
        return execution


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _new_machine(config: Config, desk: Desk) -> Any:
    machine = pystator.StateMachine.from_dict(config)
    machine.action("record")(desk.record)
    return machine


def _snapshot(store: Any, stream: Stream) -> dict[str, Any]:
    return {
        e: (store.get_state(e), _plain(store.get_context(e)))
        for e in sorted({s[0] for s in stream})
    }


def run_orchestrator(config: Config, stream: Stream, *, use_async: bool) -> Outcome:
    """``Orchestrator(machine, InMemoryStateStore())``: ``process_event`` (or
    ``async_process_event`` in one event loop) for each event; an exception it raises is
    kept as the event's outcome and the stream goes on."""
    desk = Desk()
    machine = _new_machine(config, desk)
    store = pystator.InMemoryStateStore()
    orchestrator = pystator.Orchestrator(machine, store)
    executor_type = type(orchestrator._executor)
    executions: list[Any] = []
    orchestrator._executor = Recorder(orchestrator._executor, executions)
    transitions: list[Any] = []

    def keep(outcome: Any) -> None:
        transitions.append(
            ("raised", error_summary(outcome))
            if isinstance(outcome, Exception)
            else transition_summary(outcome)
        )

    if use_async:

        async def drive() -> None:
            for entity, trigger, context in stream:
                try:
                    outcome = await orchestrator.async_process_event(
                        entity, trigger, copy.deepcopy(context)
                    )
                except Exception as exc:
                    outcome = exc
                keep(outcome)

        asyncio.run(drive())
    else:
        for entity, trigger, context in stream:
            try:
                outcome = orchestrator.process_event(entity, trigger, copy.deepcopy(context))
            except Exception as exc:
                outcome = exc
            keep(outcome)
    return {
        "executor": _qualname(executor_type),
        "transitions": transitions,
        "executions": executions,
        "log": desk.log,
        "store": _snapshot(store, stream),
    }


def run_machine(
    config: Config,
    stream: Stream,
    *,
    use_async: bool = False,
    context_factory: Callable[[], dict[str, Any]] = dict,
) -> Outcome:
    """``machine.process`` + ``ActionExecutor(machine.action_registry).execute`` (or
    ``aprocess`` + ``async_execute`` in one event loop), the states and contexts kept by
    the caller in ``context_factory()`` mappings (a ``defaultdict`` answers a missing
    name itself); an exception raised is kept as the event's outcome."""
    desk = Desk()
    machine = _new_machine(config, desk)
    executor = pystator.ActionExecutor(machine.action_registry)
    states: dict[str, str] = {}
    contexts: dict[str, dict[str, Any]] = {}
    executions: list[Any] = []
    transitions: list[Any] = []

    def context_for(entity: str, context: dict[str, Any]) -> dict[str, Any]:
        ctx = context_factory()
        ctx.update(contexts.get(entity, {}))
        ctx.update(copy.deepcopy(context))
        ctx["_entity_id"] = entity
        contexts[entity] = ctx
        return ctx

    def processed(entity: str, result: Any) -> bool:
        transitions.append(transition_summary(result))
        if result.success:
            states[entity] = result.target_state
        return bool(result.success)

    if use_async:

        async def drive() -> None:
            for entity, trigger, context in stream:
                ctx = context_for(entity, context)
                try:
                    result = await machine.aprocess(states.get(entity, "draft"), trigger, ctx)
                    if processed(entity, result):
                        executions.append(
                            execution_summary(await executor.async_execute(result, ctx))
                        )
                except Exception as exc:
                    transitions.append(("raised", error_summary(exc)))

        asyncio.run(drive())
    else:
        for entity, trigger, context in stream:
            ctx = context_for(entity, context)
            try:
                result = machine.process(states.get(entity, "draft"), trigger, ctx)
                if processed(entity, result):
                    executions.append(execution_summary(executor.execute(result, ctx)))
            except Exception as exc:
                transitions.append(("raised", error_summary(exc)))
    return {
        "executor": _qualname(type(executor)),
        "transitions": transitions,
        "executions": executions,
        "log": desk.log,
        "store": {e: (states.get(e), _plain(dict(contexts[e]))) for e in sorted(contexts)},
    }


def defaultdict_context() -> dict[str, Any]:
    """A context answering any missing name with 0 (simpleeval looks names up with
    ``names[name]``, so a ``defaultdict`` answers and grows)."""
    return collections.defaultdict(int)


def runs(config: Callable[[], Config], *, v47: bool) -> dict[str, Callable[[Stream], Outcome]]:
    """The entry points a contract's test drives, by name."""
    out: dict[str, Callable[[Stream], Outcome]] = {
        "orchestrator": lambda s: run_orchestrator(config(), s, use_async=False),
        "orchestrator_async": lambda s: run_orchestrator(config(), s, use_async=True),
        "machine_process_execute": lambda s: run_machine(config(), s),
    }
    if v47:
        out["machine_aprocess_async_execute"] = lambda s: run_machine(config(), s, use_async=True)
        out["machine_process_execute_defaultdict"] = lambda s: run_machine(
            config(), s, context_factory=defaultdict_context
        )
    return out


# ---------------------------------------------------------------------------
# The _http action without a network
# ---------------------------------------------------------------------------


class _Response:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self._body = body

    def read(self) -> bytes:
        return self._body


@contextlib.contextmanager
def stub_http() -> Iterator[list[tuple[Any, ...]]]:
    """Replaces ``urllib.request.urlopen`` (what pystator 0.0.47's ``http_action`` calls,
    through the ``urllib.request`` module) for the block; yields the list of the
    requests made: (method, url, headers, body, timeout). A url with ``/log/`` is
    answered with a non-JSON body; one with ``flagged``, and every second PUT, fails
    (ConnectionError); others get JSON."""
    requests: list[tuple[Any, ...]] = []

    def urlopen(request: urllib.request.Request, timeout: float = 0) -> Any:
        method = request.get_method()
        requests.append(
            _plain(
                (method, request.full_url, sorted(request.header_items()), request.data, timeout)
            )
        )
        puts = sum(1 for r in requests if r[0] == "PUT")
        if "flagged" in request.full_url or (method == "PUT" and puts % 2 == 0):
            raise ConnectionError("refused")
        body = b"logged" if "/log/" in request.full_url else b'{"ok": true, "n": 1}'
        return contextlib.nullcontext(_Response(201, body))

    original = urllib.request.urlopen
    urllib.request.urlopen = urlopen  # type: ignore[assignment]
    try:
        yield requests
    finally:
        urllib.request.urlopen = original


# ---------------------------------------------------------------------------
# simpleeval at a version the engine was not verified against
# ---------------------------------------------------------------------------

# pystator's expression functions install() replaces, per pystator version:
# (module, attribute).
EXPRESSION_FUNCTIONS = {
    "0.0.25": (("pystator.guards", "_eval_expression"),),
    "0.0.47": (
        ("pystator._expr", "evaluate_expr"),
        ("pystator._expr", "evaluate_bool_expr"),
        ("pystator._expr", "render_template"),
        ("pystator._expr", "render_template_value"),
        ("pystator.http_action", "render_template_value"),
        ("pystator.guards", "_eval_expression"),
    ),
}


def unverified_report(version: str) -> dict[str, Any]:
    """For a fresh interpreter (the engine reads simpleeval's version once per
    process): makes ``importlib.metadata`` report simpleeval at ``version``, then
    installs ferrostator (twice: idempotent), runs the contract's machine through
    ``Orchestrator.process_event`` installed and not, and uninstalls. Returns what was
    seen: ``native()``, the warnings install() issued (and a second install() after
    uninstall()), whether pystator's expression functions stayed pystator's while
    installed and after, the executor used, and
    whether the two runs' outcomes were equal (the keys that differ)."""
    import importlib
    import importlib.metadata
    import warnings

    real_version = importlib.metadata.version

    def version_of(name: str) -> str:
        return version if name.lower() == "simpleeval" else real_version(name)

    importlib.metadata.version = version_of  # type: ignore[assignment]

    import ferrostator
    import ferrostator.expressions

    pystator_version = real_version("pystator")
    v47 = pystator_version != "0.0.25"
    targets = [
        (importlib.import_module(module), attr)
        for module, attr in EXPRESSION_FUNCTIONS[pystator_version]
    ]

    def functions() -> list[Any]:
        return [getattr(module, attr) for module, attr in targets]

    config = v47_machine_config if v47 else seed_machine_config
    stream = events(200, seed=11)
    originals = functions()
    report: dict[str, Any] = {"native": ferrostator.expressions.native()}

    def run() -> tuple[Outcome, list[tuple[str, str]]]:
        with warnings.catch_warnings(record=True) as caught, stub_http() as requests:
            warnings.simplefilter("always")
            outcome = run_orchestrator(config(), stream, use_async=False)
        outcome["requests"] = requests
        # simpleeval's warnings only: on CPython 3.14+ pystator's own executor also warns
        # (asyncio.iscoroutinefunction is deprecated there), ferrostator's does not
        simpleevals = [w for w in caught if w.category.__module__ == "simpleeval"]
        return outcome, [(w.category.__name__, str(w.message)) for w in simpleevals]

    plain, plain_warnings = run()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ferrostator.install()
        ferrostator.install()
    report["install_warnings"] = [
        (f"{w.category.__module__}.{w.category.__qualname__}", str(w.message)) for w in caught
    ]
    try:
        report["unchanged_while_installed"] = all(
            a is b for a, b in zip(functions(), originals, strict=True)
        )
        installed, installed_warnings = run()
    finally:
        ferrostator.uninstall()
    report["restored"] = all(a is b for a, b in zip(functions(), originals, strict=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ferrostator.install()
        ferrostator.uninstall()
    report["reinstall_warnings"] = [str(w.message) for w in caught]
    report["executors"] = [plain.pop("executor"), installed.pop("executor")]
    report["differences"] = sorted(k for k in plain if plain[k] != installed[k])
    report["same_warnings"] = plain_warnings == installed_warnings
    report["simpleeval_warnings"] = len(plain_warnings)
    report["transitions"] = len(plain["transitions"])
    return report


def unverified_report_in_child(version: str = "1.0.7") -> dict[str, Any]:
    """``unverified_report(version)`` run in a fresh interpreter (this one's), with
    tests/ on its path; AssertionError with the child's output when it fails."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tests), env.get("PYTHONPATH")]))
    code = (
        "import json, _expr_engine\n"
        f"print(json.dumps(_expr_engine.unverified_report({version!r})))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=100,
        env=env,
        cwd=str(tests.parent),
    )
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])
