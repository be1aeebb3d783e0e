"""A typed usage example of ferrostator (checked with ``mypy --strict``).

An order moves from ``pending`` to ``paid``: on the way, the old state's exit
action, the transition's actions (one with params, one retried with a timeout, a
declarative effect) and the new state's entry actions run, synchronously, one by
one asynchronously, and all at once.

Run it with ``python typing/usage_example.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ferrostator import (
    ACTION_PARAMS_KEY,
    ActionExecutor,
    ActionRegistry,
    ActionResult,
    ActionSpec,
    ActionStatus,
    ExecutionMode,
    ExecutionResult,
    FSMError,
    TransitionResult,
)

registry = ActionRegistry()


@registry.decorator()
def release_hold(ctx: dict[str, Any]) -> None:
    """Exit action of ``pending``."""
    ctx.setdefault("log", []).append("hold released")


@registry.decorator(name="charge_card", metadata={"idempotent": False})
def charge(ctx: dict[str, Any]) -> str:
    """Charges the order; the spec's params say which currency."""
    params: dict[str, Any] = ctx[ACTION_PARAMS_KEY]
    receipt = f"charged {ctx['amount']} {params['currency']}"
    ctx.setdefault("log", []).append(receipt)
    return receipt


@registry.decorator()
async def send_receipt(ctx: dict[str, Any]) -> int:
    """An async action: awaited by the async methods, refused by the sync ones."""
    await asyncio.sleep(0)
    ctx.setdefault("log", []).append("receipt sent")
    return 1


async def notify_warehouse(ctx: dict[str, Any]) -> None:
    await asyncio.sleep(0)
    ctx.setdefault("log", []).append("warehouse notified")


registry.register("notify_warehouse", notify_warehouse)


def build_transition() -> TransitionResult:
    exit_specs = (ActionSpec(name="release_hold"),)
    transition_specs = (
        ActionSpec(name="charge_card", params={"currency": "EUR"}),
        ActionSpec(name="send_receipt", timeout=5.0, retry=2, retry_backoff=0.01),
        ActionSpec.from_config({"increment": "payments"}),
    )
    enter_specs = (ActionSpec.from_config("notify_warehouse"),)
    return TransitionResult.success_result(
        "pending",
        "paid",
        "pay",
        actions=transition_specs,
        on_exit=exit_specs,
        on_enter=enter_specs,
        metadata={"order_id": 42},
    )


def describe(label: str, execution: ExecutionResult) -> str:
    statuses = ", ".join(f"{r.action_name}={r.status.value}" for r in execution.action_results)
    duration = execution.duration_ms
    timing = f"{duration:.2f} ms" if duration is not None else "not completed"
    return (
        f"{label:<10} mode={execution.execution_mode.value:<10} "
        f"{execution.action_count} actions, all ok: {execution.all_succeeded} ({timing})\n"
        f"           {statuses}"
    )


async def run_async(transition: TransitionResult, executor: ActionExecutor) -> list[str]:
    lines: list[str] = []
    sequential = await executor.async_execute(transition, {"amount": 10})
    lines.append(describe("async", sequential))
    parallel = await executor.async_execute_parallel(transition, {"amount": 10})
    lines.append(describe("parallel", parallel))
    phased = await executor.async_execute_with_mode(
        transition, {"amount": 10}, ExecutionMode.PHASED
    )
    lines.append(describe("phased", phased))
    receipt: ActionResult = await registry.async_execute("send_receipt", {})
    lines.append(f"registry   send_receipt -> {receipt.result!r} ({receipt.status.value})")
    return lines


def main() -> None:
    transition = build_transition()
    assert transition.state_changed and transition.target_state == "paid"
    actions = ", ".join(transition.all_actions)
    print(f"transition {transition.source_state} -> {transition.target_state}: {actions}")

    executor = ActionExecutor(registry, stop_on_error=False)
    assert executor.validate_actions_exist(transition) == []

    context: dict[str, Any] = {"amount": 10}
    execution = executor.execute(transition, context)
    print(describe("sync", execution))
    # The sync path cannot await: the async actions fail, the others succeed.
    assert execution.failed_actions == ["send_receipt", "notify_warehouse"]
    failed = execution.action_results[2]
    error: Exception | None = failed.error
    assert isinstance(error, RuntimeError) and failed.status is ActionStatus.FAILED
    assert context["payments"] == 1 and ACTION_PARAMS_KEY not in context

    for line in asyncio.run(run_async(transition, executor)):
        print(line)

    failure = TransitionResult.failure_result(
        "paid", "refund", FSMError("no refunds after shipping")
    )
    nothing = executor.execute(failure, {})
    print(f"failed transition: {nothing.action_count} actions run, error: {failure.error}")
    print(
        f"registered: {', '.join(registry.list_actions())}; "
        f"charge_card metadata: {registry.get_metadata('charge_card')}"
    )


if __name__ == "__main__":
    main()
