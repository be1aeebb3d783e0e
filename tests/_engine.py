"""The order-lifecycle machine run by pystator's own engine, for the engine-level
differential test (tests/test_engine_differential.py) and the end-to-end benchmarks
(benches/report.py).

The machine (created -> paid -> packed -> shipped -> delivered, cancellable before it
ships) carries guards, actions with params, a retried transient failure, permanent
failures, declarative effects and an action nobody registered. Every action appends
what it saw to the run's log, so two runs can be compared call by call.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pystator
from pystator.worker.event_sources.base import EventSource
from pystator.worker.models import ClaimedEvent, WorkerEvent

STATES = ("created", "paid", "packed", "shipped", "delivered", "cancelled")
HAPPY_PATH = {"created": "pay", "paid": "pack", "packed": "ship", "shipped": "deliver"}
TRIGGERS = ("pay", "pack", "ship", "deliver", "cancel")


def machine_config(name: str = "orders") -> dict[str, Any]:
    """The order-lifecycle machine as a pystator config dict."""
    return {
        "meta": {"machine_name": name, "version": "1.0.0", "strict_mode": False},
        "states": [
            {"name": "created", "type": "initial", "on_exit": ["audit"]},
            {
                "name": "paid",
                "type": "stable",
                "on_enter": [
                    {"increment": "paid_count"},
                    {"name": "notify", "params": {"template": "payment_received"}},
                ],
                "on_exit": ["audit"],
            },
            {"name": "packed", "type": "stable", "on_enter": ["print_label"], "on_exit": ["audit"]},
            {
                "name": "shipped",
                "type": "stable",
                "on_enter": [{"name": "notify", "params": {"template": "shipped"}}, "push_webhook"],
                "on_exit": ["audit"],
            },
            {
                "name": "delivered",
                "type": "terminal",
                "on_enter": [
                    {"set": {"open": False, "status": "delivered"}},
                    {"name": "notify", "params": {"template": "delivered"}},
                ],
            },
            {
                "name": "cancelled",
                "type": "terminal",
                "on_enter": [{"set": {"open": False, "status": "cancelled"}}, "release_stock"],
            },
        ],
        "transitions": [
            {
                "trigger": "pay",
                "source": "created",
                "dest": "paid",
                "guards": ["has_amount"],
                "actions": [
                    {"name": "charge_card", "params": {"provider": "acme-pay"}},
                    {"append": {"field": "history", "value": "paid"}},
                ],
            },
            {"trigger": "pack", "source": "paid", "dest": "packed", "actions": ["reserve_stock"]},
            {
                "trigger": "ship",
                "source": "packed",
                "dest": "shipped",
                "actions": [
                    {
                        "name": "book_carrier",
                        "params": {"service": "express"},
                        "retry": 2,
                        "retry_backoff": 0.0001,
                    }
                ],
            },
            {
                "trigger": "deliver",
                "source": "shipped",
                "dest": "delivered",
                "actions": ["sync_legacy_erp"],
            },
            {
                "trigger": "cancel",
                "source": ["created", "paid", "packed"],
                "dest": "cancelled",
                "actions": [{"append": {"field": "history", "value": "cancelled"}}],
            },
        ],
    }


def events(count: int, entities: int, seed: int) -> list[tuple[str, str, dict[str, Any]]]:
    """A seeded stream of (entity id, trigger, event context): mostly each order's next
    step, some cancellations, some triggers that do not apply (rejected)."""
    rng = random.Random(seed)
    state = {f"order-{i}": "created" for i in range(entities)}
    out = []
    for n in range(count):
        entity = f"order-{rng.randrange(entities)}"
        roll = rng.random()
        current = state[entity]
        if roll < 0.8 and current in HAPPY_PATH:
            trigger = HAPPY_PATH[current]
        elif roll < 0.88:
            trigger = "cancel"
        else:
            trigger = rng.choice(TRIGGERS)
        context = {"amount": 10 + n % 7} if rng.random() < 0.95 else {}
        out.append((entity, trigger, context))
        if trigger == "cancel" and current in ("created", "paid", "packed"):
            state[entity] = "cancelled"
        elif HAPPY_PATH.get(current) == trigger and (trigger != "pay" or context):
            state[entity] = {"pay": "paid", "pack": "packed", "ship": "shipped"}.get(
                trigger, "delivered"
            )
    return out


#: The expressions of ``expr_machine_config``: its guards (both contracts), the ``when``
#: conditions on its actions and its ``compute`` effect (pystator 0.0.47 only).
EXPR_GUARDS = {
    "pay": "amount > 0 and qty <= 10",
    "ship": "amount * qty < 150",
    "cancel": "amount >= 0",
}
EXPR_WHEN = {"print_label": "qty > 1", "notify": "amount * qty > 40"}
EXPR_COMPUTE = {"total": "amount * qty", "tax": "round(amount * qty * 0.2, 2)"}


def expr_machine_config(contract: str, name: str = "orders") -> dict[str, Any]:
    """The order-lifecycle machine of ``machine_config`` driven by expressions: its guards
    are inline ``expr`` strings (EXPR_GUARDS, on pay, ship and cancel) and, under pystator
    0.0.47's contract (``contract="v47"``), print_label and the shipped notification
    carry a ``when`` (EXPR_WHEN) and entering paid runs a ``compute`` effect
    (EXPR_COMPUTE). pystator 0.0.25 (``contract="seed"``) has inline ``expr`` guards but
    neither ``when`` nor ``compute``: there the machine has the guards only. Every
    event of ``expr_events`` carries the names the expressions read (amount, qty)."""
    if contract not in ("seed", "v47"):
        raise ValueError(f"contract must be 'seed' or 'v47', not {contract!r}")
    config = machine_config(name)
    for transition in config["transitions"]:
        guard = EXPR_GUARDS.get(transition["trigger"])
        transition.pop("guards", None)
        if guard is not None:
            transition["guards"] = [{"expr": guard}]
    if contract == "v47":
        states = {state["name"]: state for state in config["states"]}
        states["paid"]["on_enter"].insert(0, {"compute": dict(EXPR_COMPUTE)})
        states["packed"]["on_enter"] = [{"name": "print_label", "when": EXPR_WHEN["print_label"]}]
        states["shipped"]["on_enter"][0]["when"] = EXPR_WHEN["notify"]
    return config


def expr_machine_expressions(contract: str) -> tuple[str, ...]:
    """Every expression string ``expr_machine_config(contract)`` holds."""
    found = list(EXPR_GUARDS.values())
    if contract == "v47":
        found += [*EXPR_WHEN.values(), *EXPR_COMPUTE.values()]
    return tuple(found)


def expr_events(count: int, entities: int, seed: int) -> list[tuple[str, str, dict[str, Any]]]:
    """A seeded stream for ``expr_machine_config``, made as ``events`` makes its own
    (mostly each order's next step, some cancellations, some triggers that do not apply),
    every event carrying an amount and a quantity, so the guards pass or fail on them:
    pay fails when qty > 10, ship when amount * qty >= 150."""
    rng = random.Random(seed)
    state = {f"order-{i}": "created" for i in range(entities)}
    out = []
    for n in range(count):
        entity = f"order-{rng.randrange(entities)}"
        roll = rng.random()
        current = state[entity]
        if roll < 0.8 and current in HAPPY_PATH:
            trigger = HAPPY_PATH[current]
        elif roll < 0.88:
            trigger = "cancel"
        else:
            trigger = rng.choice(TRIGGERS)
        context = {"amount": 10 + n % 7, "qty": 1 + (n * 5) % 12}
        out.append((entity, trigger, context))
        amount, qty = context["amount"], context["qty"]
        passes = {
            "pay": amount > 0 and qty <= 10,
            "ship": amount * qty < 150,
            "cancel": amount >= 0,
        }.get(trigger, True)
        if not passes:
            continue
        if trigger == "cancel" and current in ("created", "paid", "packed"):
            state[entity] = "cancelled"
        elif HAPPY_PATH.get(current) == trigger:
            state[entity] = {"pay": "paid", "pack": "packed", "ship": "shipped"}.get(
                trigger, "delivered"
            )
    return out


class Shop:
    """The actions and guards of one run. Failures are a function of the call count
    and the order, so every run of the same stream sees the same ones.

    An action finds its spec's params as pystator 0.0.25 hands them over (the context's
    ``_action_params`` key) or as 0.0.47 does (keyword arguments, since every action
    here takes ``**params``): the same machine runs under either contract."""

    def __init__(
        self, *, async_actions: bool = False, flaky: bool = True, suspend: bool = True
    ) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.async_actions = async_actions
        self.flaky = flaky  # book_carrier fails now and then with a transient error
        self.suspend = suspend  # the async action awaits asyncio.sleep(0)
        self.calls = 0

    def _seen(self, name: str, ctx: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Logs the call; returns the spec's params (keyword arguments, or the key)."""
        self.calls += 1
        params = kwargs or ctx.get("_action_params")
        self.log.append((name, ctx.get("_entity_id"), dict(params) if params else None))
        return params or {}

    # actions
    def audit(self, ctx: dict[str, Any], **params: Any) -> None:
        self._seen("audit", ctx, params)
        ctx["audited"] = ctx.get("audited", 0) + 1

    def charge_card(self, ctx: dict[str, Any], **params: Any) -> str:
        params = self._seen("charge_card", ctx, params)
        if ctx["amount"] == 13:
            raise ValueError("card declined")  # permanent: not retried
        return f"{params['provider']}:{ctx['_entity_id']}"

    def reserve_stock(self, ctx: dict[str, Any], **params: Any) -> None:
        self._seen("reserve_stock", ctx, params)
        ctx["reserved"] = True

    def release_stock(self, ctx: dict[str, Any], **params: Any) -> None:
        self._seen("release_stock", ctx, params)
        ctx["reserved"] = False

    def print_label(self, ctx: dict[str, Any], **params: Any) -> str:
        self._seen("print_label", ctx, params)
        return f"LBL-{ctx['_entity_id']}"

    def book_carrier(self, ctx: dict[str, Any], **params: Any) -> str:
        params = self._seen("book_carrier", ctx, params)
        if self.flaky and self.calls % 5 == 0:
            raise ConnectionError("carrier busy")  # transient: retried
        return f"{params['service']}-booking"

    def notify(self, ctx: dict[str, Any], **params: Any) -> str:
        params = self._seen("notify", ctx, params)
        return f"sent {params['template']}"

    async def push_webhook_async(self, ctx: dict[str, Any], **params: Any) -> int:
        self._seen("push_webhook", ctx, params)
        if self.suspend:
            await asyncio.sleep(0)
        return 202

    def push_webhook(self, ctx: dict[str, Any], **params: Any) -> int:
        self._seen("push_webhook", ctx, params)
        return 202

    # guards
    def has_amount(self, ctx: dict[str, Any]) -> bool:
        return "amount" in ctx

    def register(self, action: Callable[[str, Callable[..., Any]], Any], guard: Any) -> None:
        """Registers the actions (not sync_legacy_erp: it is skipped) and guards."""
        for name in ("audit", "charge_card", "reserve_stock", "release_stock", "print_label"):
            action(name, getattr(self, name))
        action("book_carrier", self.book_carrier)
        action("notify", self.notify)
        action("push_webhook", self.push_webhook_async if self.async_actions else self.push_webhook)
        guard("has_amount", self.has_amount)


class Recorder:
    """Wraps an engine's executor and keeps what each execution returned (the engine
    itself drops the ExecutionResult)."""

    def __init__(self, inner: Any, sink: list[Any]) -> None:
        self.inner = inner
        self.sink = sink

    def _keep(self, execution: Any) -> Any:
        self.sink.append(summary(execution))
        return execution

    def execute(self, transition_result: Any, context: dict[str, Any]) -> Any:
        return self._keep(self.inner.execute(transition_result, context))

    async def async_execute(self, transition_result: Any, context: dict[str, Any]) -> Any:
        return self._keep(await self.inner.async_execute(transition_result, context))


def summary(execution: Any) -> tuple[Any, ...]:
    """What an ExecutionResult says, as plain comparable values."""
    return (
        execution.transition_result.trigger,
        execution.transition_result.target_state,
        str(execution.execution_mode.value),
        tuple(
            (
                r.action_name,
                r.success,
                str(r.status.value),
                r.result if not asyncio.iscoroutine(r.result) else "<coroutine>",
                type(r.error).__name__ if r.error is not None else None,
                str(r.error) if r.error is not None else None,
            )
            for r in execution.action_results
        ),
    )


def transition_summary(result: Any) -> tuple[Any, ...]:
    return (
        result.success,
        result.source_state,
        result.target_state,
        result.trigger,
        type(result.error).__name__ if result.error is not None else None,
    )


def _new_machine(shop: Shop) -> pystator.StateMachine:
    machine = pystator.StateMachine.from_dict(machine_config())
    shop.register(
        lambda name, func: machine.action(name)(func),
        lambda name, func: machine.guard(name)(func),
    )
    return machine


def _store_snapshot(store: Any, entity_ids: list[str]) -> dict[str, Any]:
    return {e: (store.get_state(e), store.get_context(e)) for e in entity_ids}


Outcome = dict[str, Any]


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _orchestrator_outcome(
    executor_type: type, transitions: list, executions: list, shop: Shop, store: Any, stream: list
) -> Outcome:
    """What an Orchestrator run gives: the executor that ran, the transitions and
    executions in order, the actions' log, and the store's final snapshot."""
    entities = sorted({e for e, _, _ in stream})
    return {
        "executor": _qualname(executor_type),
        "transitions": transitions,
        "executions": executions,
        "log": shop.log,
        "store": _store_snapshot(store, entities),
    }


def run_orchestrator(stream: list[tuple[str, str, dict[str, Any]]], *, use_async: bool) -> Outcome:
    """``Orchestrator(machine, InMemoryStateStore())``: process_event, or
    async_process_event in one event loop."""
    shop = Shop(async_actions=use_async)
    machine = _new_machine(shop)
    store = pystator.InMemoryStateStore()
    orchestrator = pystator.Orchestrator(machine, store)
    executor_type = type(orchestrator._executor)
    executions: list[Any] = []
    orchestrator._executor = Recorder(orchestrator._executor, executions)
    transitions = []
    if use_async:

        async def drive() -> None:
            for entity, trigger, context in stream:
                result = await orchestrator.async_process_event(entity, trigger, dict(context))
                transitions.append(transition_summary(result))

        asyncio.run(drive())
    else:
        for entity, trigger, context in stream:
            transitions.append(
                transition_summary(orchestrator.process_event(entity, trigger, dict(context)))
            )
    return _orchestrator_outcome(executor_type, transitions, executions, shop, store, stream)


def run_orchestrate(stream: list[tuple[str, str, dict[str, Any]]]) -> Outcome:
    """``machine.orchestrate(store)``, the convenience factory."""
    shop = Shop()
    machine = _new_machine(shop)
    store = pystator.InMemoryStateStore()
    orchestrator = machine.orchestrate(store)
    executor_type = type(orchestrator._executor)
    executions: list[Any] = []
    orchestrator._executor = Recorder(orchestrator._executor, executions)
    transitions = [
        transition_summary(orchestrator.process_event(e, t, dict(c))) for e, t, c in stream
    ]
    return _orchestrator_outcome(executor_type, transitions, executions, shop, store, stream)


def run_machine(stream: list[tuple[str, str, dict[str, Any]]]) -> Outcome:
    """``machine.process`` + ``ActionExecutor(machine.action_registry).execute``, the
    states and contexts kept by the caller."""
    shop = Shop()
    machine = _new_machine(shop)
    executor = pystator.ActionExecutor(machine.action_registry)
    states: dict[str, str] = {}
    contexts: dict[str, dict[str, Any]] = {}
    executions = []
    transitions = []
    for entity, trigger, context in stream:
        ctx = {**contexts.get(entity, {}), **context, "_entity_id": entity}
        result = machine.process(states.get(entity, "created"), trigger, ctx)
        transitions.append(transition_summary(result))
        if result.success:
            states[entity] = result.target_state
            executions.append(summary(executor.execute(result, ctx)))
            contexts[entity] = {k: v for k, v in ctx.items() if not k.startswith("_")}
    return {
        "executor": _qualname(type(executor)),
        "transitions": transitions,
        "executions": executions,
        "log": shop.log,
        "store": {e: (states.get(e), contexts.get(e, {})) for e in sorted(states)},
    }


class MemoryEventSource(EventSource):
    """A worker event queue in memory (first in, first out)."""

    def __init__(self) -> None:
        self.pending: list[ClaimedEvent] = []
        self.completed: list[tuple[str, Any]] = []
        self.failed: list[tuple[str, str, bool]] = []

    async def submit(self, event: WorkerEvent) -> str:
        event_id = f"ev-{len(self.pending) + len(self.completed) + len(self.failed)}"
        self.pending.append(
            ClaimedEvent(
                event_id=event_id,
                machine_name=event.machine_name,
                entity_id=event.entity_id,
                trigger=event.trigger,
                context=dict(event.context or {}),
                attempt=1,
                max_attempts=event.max_attempts,
            )
        )
        return event_id

    async def claim_next(self, worker_id: str) -> ClaimedEvent | None:
        return self.pending.pop(0) if self.pending else None

    async def complete(self, event_id: str, result: Any = None) -> None:
        self.completed.append((event_id, result))

    async def fail(self, event_id: str, error: str, retry: bool = True) -> None:
        self.failed.append((event_id, error, retry))

    async def health_check(self) -> bool:
        return True

    async def pending_count(self) -> int:
        return len(self.pending)

    async def close(self) -> None:
        return None


def run_worker(stream: list[tuple[str, str, dict[str, Any]]]) -> Outcome:
    """pystator's ``Worker``: machines loaded from YAML, entity state in SQLite, events
    from an in-memory queue, each claimed event processed by the worker's processor."""
    import yaml
    from pystator.worker import Worker, WorkerConfig

    shop = Shop()
    guards = pystator.GuardRegistry()
    actions = pystator.ActionRegistry()
    shop.register(actions.register, guards.register)
    with tempfile.TemporaryDirectory() as tmp:
        machines = Path(tmp) / "machines"
        machines.mkdir()
        (machines / "orders.yaml").write_text(yaml.safe_dump(machine_config()), encoding="utf-8")
        config = WorkerConfig(
            db_url=f"sqlite:///{tmp}/worker.db",
            machine_source="yaml",
            machine_dir=str(machines),
            concurrency=1,
            dlq_enabled=False,
        )
        source = MemoryEventSource()
        worker = Worker(config, guards=guards, actions=actions, event_source=source)
        executions: list[Any] = []

        async def drive() -> dict[str, Any]:
            await worker.start()
            registry = worker._registry
            orchestrator = registry.get_orchestrator("orders")
            executor_type = type(orchestrator._executor)
            orchestrator._executor = Recorder(orchestrator._executor, executions)
            for entity, trigger, context in stream:
                await source.submit(WorkerEvent("orders", entity, trigger, dict(context)))
                claimed = await source.claim_next("w")
                assert claimed is not None
                await worker._processor.process_one(claimed)
            store = orchestrator.store
            entities = sorted({e for e, _, _ in stream})
            snapshot = _store_snapshot(store, entities)
            await source.close()
            return {
                "executor": _qualname(executor_type),
                "store_type": type(store).__name__,
                "snapshot": snapshot,
            }

        found = asyncio.run(drive())
        # Closes the SQLite session and disposes of the engine: a connection left to the
        # GC is a ResourceWarning (CPython 3.13+) in whichever later test collects it.
        worker._registry._store.disconnect()
    return {
        "executor": found["executor"],
        "store_type": found["store_type"],
        "executions": executions,
        "log": shop.log,
        "store": found["snapshot"],
        "queue": (source.completed, source.failed),
    }


RUNS: dict[str, Callable[[list[tuple[str, str, dict[str, Any]]]], Outcome]] = {
    "orchestrator": lambda s: run_orchestrator(s, use_async=False),
    "orchestrator_async": lambda s: run_orchestrator(s, use_async=True),
    "orchestrate": run_orchestrate,
    "machine_process_execute": run_machine,
    "worker": run_worker,
}


def iter_runs() -> Iterator[str]:
    yield from RUNS
