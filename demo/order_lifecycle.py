#!/usr/bin/env python3
"""ferrostator demo: an order-lifecycle event stream.

    python demo/order_lifecycle.py [--events N] [--async-events N] [--seed S] [--no-compare]

A shop's orders move through created -> paid -> packed -> shipped -> delivered,
and can be cancelled before they ship. A seeded, synthetic stream of events
(mostly the next step of an order, some cancellations, and some events that do
not apply to the order's state, which the state machine rejects) is turned into
TransitionResults, and the actions they carry are run by ferrostator's
ActionExecutor:

* sync and async action functions, some with params (read from
  ``context[ACTION_PARAMS_KEY]``);
* declarative effects: ``increment``, ``set``, ``timestamp`` and ``append``;
* a carrier API that fails now and then with a transient ConnectionError and is
  retried (``retry=3``, ``retry_backoff=0.0001``);
* a card charge that is sometimes declined (a permanent error: no retry);
* a legacy hook that nobody registered (its results are "skipped").

The sync stream goes through ``execute``, the async one through
``async_execute_phased`` (exit, transition and enter actions, each phase
concurrently). When pystator 0.0.25 is installed, the very same stream also
goes through pystator's executor, and the two are compared: speed, and that
they reached the same outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import random
import sys
import time
import types
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------------------
# The state machine (plain data: a real application would load it from YAML)
# ---------------------------------------------------------------------------

STATES = ("created", "paid", "packed", "shipped", "delivered", "cancelled")
TERMINAL = frozenset({"delivered", "cancelled"})

# Actions are written as pystator configs: a name, a dict with name/params/
# retry..., or a declarative effect.
ON_EXIT: dict[str, list[Any]] = {state: ["audit"] for state in STATES}
ON_ENTER: dict[str, list[Any]] = {
    "paid": [
        {"increment": "paid_count"},
        {"name": "notify_customer", "params": {"template": "payment_received"}},
    ],
    "packed": ["print_label"],
    "shipped": [
        {"timestamp": "shipped_at"},
        {"name": "notify_customer", "params": {"template": "shipped"}},
        "push_webhook",
    ],
    "delivered": [
        {"set": {"open": False, "status": "delivered"}},
        {"name": "notify_customer", "params": {"template": "delivered"}},
    ],
    "cancelled": [
        {"set": {"open": False, "status": "cancelled"}},
        "release_stock",
        {"name": "notify_customer", "params": {"template": "cancelled"}},
    ],
}


def _history(step: str) -> dict[str, Any]:
    return {"append": {"field": "history", "value": step}}


# trigger -> (sources, destination, transition actions)
TRANSITIONS: dict[str, tuple[frozenset[str], str, list[Any]]] = {
    "pay": (
        frozenset({"created"}),
        "paid",
        [
            {"name": "charge_card", "params": {"provider": "acme-pay"}},
            {"name": "record_payment", "params": {"ledger": "sales"}},
            _history("paid"),
        ],
    ),
    "pack": (frozenset({"paid"}), "packed", ["reserve_stock", _history("packed")]),
    "ship": (
        frozenset({"packed"}),
        "shipped",
        [
            {
                "name": "book_carrier",
                "params": {"service": "express"},
                "retry": 3,
                "retry_backoff": 0.0001,
            },
            _history("shipped"),
        ],
    ),
    "deliver": (frozenset({"shipped"}), "delivered", [_history("delivered"), "sync_legacy_erp"]),
    "cancel": (frozenset({"created", "paid", "packed"}), "cancelled", [_history("cancelled")]),
}
HAPPY_PATH = {"created": "pay", "paid": "pack", "packed": "ship", "shipped": "deliver"}


# ---------------------------------------------------------------------------
# The synthetic event stream (the same for every implementation)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    order: int  # index of the order's context
    source: str  # the order's state when the event arrives
    trigger: str


@dataclass
class Stream:
    events: list[Event]
    orders: int
    final_states: Counter[str]


def make_stream(n: int, seed: int, open_orders: int = 1_000) -> Stream:
    """``n`` events over a rolling population of ``open_orders`` orders: 85 %
    are the order's next step, 5 % cancel it and 10 % are a random trigger
    (rejected when it does not apply to the order's state)."""
    rng = random.Random(seed)
    state: list[str] = []
    open_: list[int] = []

    def new_order() -> int:
        state.append("created")
        return len(state) - 1

    open_ = [new_order() for _ in range(open_orders)]
    events = []
    for _ in range(n):
        slot = rng.randrange(open_orders)
        order = open_[slot]
        roll = rng.random()
        if roll < 0.85:
            trigger = HAPPY_PATH[state[order]]
        elif roll < 0.90:
            trigger = "cancel"
        else:
            trigger = rng.choice(list(TRANSITIONS))
        events.append(Event(order, state[order], trigger))
        sources, dest, _ = TRANSITIONS[trigger]
        if state[order] in sources:
            state[order] = dest
            if dest in TERMINAL:
                open_[slot] = new_order()
    return Stream(events, len(state), Counter(state))


# ---------------------------------------------------------------------------
# The actions
# ---------------------------------------------------------------------------


class Shop:
    """The side effects of one run: action functions and their counters. Its
    random failures are seeded, so every implementation sees the same ones."""

    def __init__(self, params_key: str, seed: int) -> None:
        self.params_key = params_key
        self.rng = random.Random(seed)
        self.carrier_calls = 0
        self.emails: Counter[str] = Counter()
        self.ledger = 0.0

    # -- sync actions ------------------------------------------------------

    def audit(self, ctx: dict[str, Any]) -> None:
        ctx["audited"] = ctx.get("audited", 0) + 1

    def charge_card(self, ctx: dict[str, Any]) -> str:
        if self.rng.random() < 0.01:
            raise ValueError("card declined")  # permanent: not retried
        return f"{ctx[self.params_key]['provider']}:{ctx['order_id']}"

    def record_payment(self, ctx: dict[str, Any]) -> None:
        assert ctx[self.params_key]["ledger"] == "sales"
        self.ledger += ctx["amount"]

    def reserve_stock(self, ctx: dict[str, Any]) -> None:
        ctx["reserved"] = True

    def release_stock(self, ctx: dict[str, Any]) -> None:
        ctx["reserved"] = False

    def print_label(self, ctx: dict[str, Any]) -> str:
        return f"LBL-{ctx['order_id']:07d}"

    def book_carrier(self, ctx: dict[str, Any]) -> str:
        self.carrier_calls += 1
        if self.rng.random() < 0.01:
            raise ConnectionError("carrier API unreachable")  # transient: retried
        return f"TRK-{ctx['order_id']:07d}"

    def notify_customer(self, ctx: dict[str, Any]) -> None:
        self.emails[ctx[self.params_key]["template"]] += 1

    def push_webhook(self, ctx: dict[str, Any]) -> None:
        ctx["webhooks"] = ctx.get("webhooks", 0) + 1

    # -- async flavours of the I/O-bound ones --------------------------------

    async def book_carrier_async(self, ctx: dict[str, Any]) -> str:
        await asyncio.sleep(0)  # a real round trip to the event loop
        return self.book_carrier(ctx)

    async def notify_customer_async(self, ctx: dict[str, Any]) -> None:
        # Read the params before suspending: the actions of a phase share the
        # context, and another one may replace or remove the params meanwhile.
        template = ctx[self.params_key]["template"]
        await asyncio.sleep(0)
        self.emails[template] += 1

    async def push_webhook_async(self, ctx: dict[str, Any]) -> None:
        self.push_webhook(ctx)  # completes without suspending

    def register(self, registry: Any, flavour: str) -> None:
        """Register every action ("sync_legacy_erp" is left out on purpose).
        In the async flavour, the I/O-bound ones are coroutine functions."""
        sync_names = [
            "audit",
            "charge_card",
            "record_payment",
            "reserve_stock",
            "release_stock",
            "print_label",
        ]
        io_names = ["book_carrier", "notify_customer", "push_webhook"]
        for name in sync_names:
            registry.register(name, getattr(self, name))
        for name in io_names:
            suffix = "_async" if flavour == "async" else ""
            registry.register(name, getattr(self, name + suffix))


# ---------------------------------------------------------------------------
# Running a stream through one implementation
# ---------------------------------------------------------------------------


def load(name: str) -> types.SimpleNamespace:
    """The public API of ferrostator or pystator 0.0.25 (ImportError if absent)."""
    if name == "ferrostator":
        modules = [importlib.import_module("ferrostator")]
    else:
        modules = [
            importlib.import_module(m)
            for m in ("pystator.actions", "pystator._types", "pystator.errors")
        ]
    api = {}
    for attr in (
        "ACTION_PARAMS_KEY",
        "ActionExecutor",
        "ActionRegistry",
        "ActionSpec",
        "ErrorCode",
        "FSMError",
        "TransitionResult",
    ):
        api[attr] = next(getattr(m, attr) for m in modules if hasattr(m, attr))
    return types.SimpleNamespace(name=name, **api)


def transition_table(api: types.SimpleNamespace) -> dict[tuple[str, str], Any]:
    """The TransitionResult for every (state, trigger): what a state machine
    would answer. Built once; TransitionResults are immutable."""
    specs = lambda configs: tuple(api.ActionSpec.from_config(c) for c in configs)  # noqa: E731
    table = {}
    for source in STATES:
        for trigger, (sources, dest, actions) in TRANSITIONS.items():
            if source in sources:
                table[source, trigger] = api.TransitionResult(
                    success=True,
                    source_state=source,
                    target_state=dest,
                    trigger=trigger,
                    on_exit_actions=specs(ON_EXIT.get(source, [])),
                    actions_to_execute=specs(actions),
                    on_enter_actions=specs(ON_ENTER.get(dest, [])),
                )
            else:
                code = (
                    api.ErrorCode.TERMINAL_STATE
                    if source in TERMINAL
                    else (api.ErrorCode.INVALID_TRIGGER)
                )
                error = api.FSMError(
                    f"'{trigger}' does not apply to a {source} order",
                    {"state": source, "trigger": trigger},
                    code=code,
                )
                table[source, trigger] = api.TransitionResult(
                    success=False,
                    source_state=source,
                    target_state=None,
                    trigger=trigger,
                    error=error,
                )
    return table


@dataclass
class Outcome:
    """What one run did: the time spent in the executor, and a summary that
    must not depend on the implementation."""

    seconds: float = 0.0
    transitions: Counter[str] = field(default_factory=Counter)  # applied / rejected
    results: Counter[str] = field(default_factory=Counter)  # ok / failed / skipped
    failures: Counter[str] = field(default_factory=Counter)  # "action: error"
    retries: int = 0
    emails: Counter[str] = field(default_factory=Counter)
    ledger: float = 0.0
    contexts: str = ""  # digest of every order's final context

    @property
    def actions(self) -> int:
        return sum(self.results.values())

    def tally(self, execution: Any) -> None:
        self.transitions["applied" if execution.transition_result.success else "rejected"] += 1
        for result in execution.action_results:
            status = result.status.value  # "ok", "failed" or "skipped"
            self.results[status] += 1
            if status == "failed":
                self.failures[f"{result.action_name}: {result.error}"] += 1

    def summary(self) -> tuple[Any, ...]:
        return (
            self.transitions,
            self.results,
            self.failures,
            self.retries,
            self.emails,
            round(self.ledger, 2),
            self.contexts,
        )


def digest(contexts: list[dict[str, Any]]) -> str:
    """A fingerprint of the final contexts (a timestamp counts as present or not)."""
    h = hashlib.sha256()
    for ctx in contexts:
        h.update(
            repr(sorted((k, "<set>" if k == "shipped_at" else v) for k, v in ctx.items())).encode()
        )
    return h.hexdigest()


class Run:
    """One implementation, one stream: a fresh shop, registry, executor and
    order contexts, so that every run starts from the same place."""

    def __init__(self, api: types.SimpleNamespace, stream: Stream, flavour: str, seed: int) -> None:
        self.stream = stream
        self.shop = Shop(api.ACTION_PARAMS_KEY, seed)
        registry = api.ActionRegistry()
        self.shop.register(registry, flavour)
        self.executor = api.ActionExecutor(registry, log_execution=False)
        self.table = transition_table(api)
        rng = random.Random(seed)
        self.contexts = [
            {"order_id": i, "amount": round(rng.uniform(5, 500), 2), "history": []}
            for i in range(stream.orders)
        ]
        self.outcome = Outcome()
        self.carrier_results = 0  # book_carrier results (one per ship, retries or not)

    def work(self) -> Iterator[tuple[Any, dict[str, Any]]]:
        for event in self.stream.events:
            tr = self.table[event.source, event.trigger]
            self.carrier_results += event.trigger == "ship" and tr.success
            yield tr, self.contexts[event.order]

    def sync(self) -> Outcome:
        execute, clock, outcome = self.executor.execute, time.perf_counter, self.outcome
        for tr, ctx in self.work():
            start = clock()
            execution = execute(tr, ctx)
            outcome.seconds += clock() - start
            outcome.tally(execution)
        return self.finish()

    def async_(self) -> Outcome:
        execute, clock, outcome = (
            self.executor.async_execute_phased,
            time.perf_counter,
            self.outcome,
        )

        async def consume() -> None:
            for tr, ctx in self.work():
                start = clock()
                execution = await execute(tr, ctx)
                outcome.seconds += clock() - start
                outcome.tally(execution)

        asyncio.run(consume())
        return self.finish()

    def finish(self) -> Outcome:
        # Every book_carrier call beyond the one result it ends with was a retry.
        self.outcome.retries = self.shop.carrier_calls - self.carrier_results
        self.outcome.emails = self.shop.emails
        self.outcome.ledger = self.shop.ledger
        self.outcome.contexts = digest(self.contexts)
        return self.outcome


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def rates(outcome: Outcome, events: int) -> tuple[float, float]:
    return events / outcome.seconds, outcome.actions / outcome.seconds


def print_throughput(runs: dict[str, dict[str, Outcome]], sizes: dict[str, int]) -> None:
    names = list(runs)  # ferrostator first
    compare = len(names) == 2
    print(
        f"  {'':28}" + "".join(f"{n:>16}" for n in names) + (f"{'speed-up':>11}" if compare else "")
    )
    for flavour, method in (("sync", "execute"), ("async", "async_execute_phased")):
        print(f"  {flavour} stream ({method})")
        per_impl = [rates(runs[n][flavour], sizes[flavour]) for n in names]
        for row, unit in enumerate(("transitions/s", "actions/s")):
            line = f"    {unit:<26}" + "".join(f"{r[row]:>16,.0f}" for r in per_impl)
            if compare:
                line += f"{per_impl[0][row] / per_impl[1][row]:>10.1f}×"
            print(line)
    print()


def print_summary(name: str, flavour: str, outcome: Outcome, events: int) -> None:
    t, r = outcome.transitions, outcome.results
    print(f"  {flavour} stream, {events:,} events ({name})")
    print(
        f"    transitions     {t['applied']:>8,} applied  {t['rejected']:>7,} rejected "
        "(no actions run)"
    )
    print(
        f"    action results  {r['ok']:>8,} ok       {r['failed']:>7,} failed   "
        f"{r['skipped']:>7,} skipped"
    )
    for failure, count in outcome.failures.most_common():
        print(f"      failed    {count:>7,} × {failure}")
    print(f"      skipped   {r['skipped']:>7,} × sync_legacy_erp (never registered)")
    print(f"    retries         {outcome.retries:>8,} of book_carrier after a ConnectionError")
    emails = ", ".join(f"{k} {v:,}" for k, v in sorted(outcome.emails.items()))
    print(f"    emails sent     {emails}")


def print_states(stream: Stream) -> None:
    histogram = ", ".join(f"{s} {stream.final_states[s]:,}" for s in STATES)
    print(f"    final states    {histogram} ({stream.orders:,} orders)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="sync events (50,000)")
    parser.add_argument("--async-events", type=int, default=10_000, help="async events (10,000)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--no-compare",
        action="store_true",
        help="run ferrostator only, even if pystator is installed",
    )
    args = parser.parse_args(argv)

    implementations = {}
    for name in ("ferrostator", "pystator"):
        try:
            implementations[name] = load(name)
        except ImportError as exc:
            if name == "ferrostator":
                print(
                    f"ferrostator: not importable ({exc}); build it with `make build-dev`.",
                    file=sys.stderr,
                )
                return 1
            print("(pystator 0.0.25 is not installed: running ferrostator alone)\n")
        if args.no_compare:
            break

    streams = {
        "sync": make_stream(args.events, args.seed),
        "async": make_stream(args.async_events, args.seed + 1),
    }
    sizes = {flavour: len(s.events) for flavour, s in streams.items()}
    print(
        f"Order lifecycle: {sizes['sync']:,} sync + {sizes['async']:,} async events, "
        f"seed {args.seed}\n"
    )

    runs: dict[str, dict[str, Outcome]] = {}
    for name, api in implementations.items():
        runs[name] = {
            "sync": Run(api, streams["sync"], "sync", args.seed).sync(),
            "async": Run(api, streams["async"], "async", args.seed).async_(),
        }

    print("Throughput (time spent inside the executor, actions included)\n")
    print_throughput(runs, sizes)
    print("  The actions do real work in Python here, which no executor speeds up;")
    print("  benches/report.py measures the executors' own overhead.\n")

    print("Summary\n")
    fs = runs["ferrostator"]
    for flavour in ("sync", "async"):
        print_summary("ferrostator", flavour, fs[flavour], sizes[flavour])
        print_states(streams[flavour])
        print()
    if "pystator" in runs:
        same = all(runs["pystator"][f].summary() == fs[f].summary() for f in fs)
        if same:
            print("pystator 0.0.25 reached exactly the same outcome ✓")
        else:
            print("pystator 0.0.25 reached a DIFFERENT outcome ✗")
            for flavour in fs:
                print_summary("pystator", flavour, runs["pystator"][flavour], sizes[flavour])
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
