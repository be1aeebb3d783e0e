"""Action registry and executor — a drop-in for ``pystator.actions``.

The bookkeeping (registry, spec resolution, retries, results) is in the Rust core,
``ferrostator._core``. This module adds what is naturally Python: the ``async``
methods (each returns a real coroutine, so ``asyncio.run``, ``create_task`` and
``gather`` accept them), the ``asyncio.gather`` fan-out of parallel and phased
batches, and the decorator.
"""

from __future__ import annotations

import logging
from asyncio import Future
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ferrostator._core import (
    ACTION_PARAMS_KEY,
    ActionNotFoundError,
    ActionResult,
    ActionSpec,
    ActionStatus,
    ExecutionMode,
    ExecutionResult,
    ExecutorCore,
    RegistryCore,
    TransitionResult,
    _complete,
    _fan_out,
    _parallel_start,
    _phased_start,
    _registry_all_start,
    _registry_start,
    _Run,
    _sequential_start,
    _spec_start,
    is_transient_error,
)

if TYPE_CHECKING:
    from typing import TypeVar

    from ferrostator._core import _ActionSpecLike, _Batch, _TransitionResultLike

    _T = TypeVar("_T")
    _F = TypeVar("_F", bound=Callable[[dict[str, Any]], Any])

__all__ = [
    "ACTION_PARAMS_KEY",
    "ActionExecutor",
    "ActionFunc",
    "ActionNotFoundError",
    "ActionRegistry",
    "ActionResult",
    "ActionSpec",
    "ActionStatus",
    "AnyActionFunc",
    "AsyncActionFunc",
    "ExecutionMode",
    "ExecutionResult",
    "TransitionResult",
    "is_transient_error",
    "logger",
]

logger = logging.getLogger(__name__)


@runtime_checkable
class ActionFunc(Protocol):
    """Synchronous action function protocol."""

    def __call__(self, context: dict[str, Any]) -> Any: ...


@runtime_checkable
class AsyncActionFunc(Protocol):
    """Asynchronous action function protocol."""

    def __call__(self, context: dict[str, Any]) -> Awaitable[Any]: ...


AnyActionFunc = ActionFunc | AsyncActionFunc | Callable[[dict[str, Any]], Any | Awaitable[Any]]


class _BatchFuture(Future[None]):
    """The future a fanned-out batch is awaited through: ``asyncio.gather``'s outer
    future (``_GatheringFuture``) for the batch's Tasks, made by ``_Batch.watch``.
    Cancelling it cancels the Tasks, and it is done once they all are (or one failed,
    or was cancelled), exactly as with gather."""

    _children: list[Future[Any]]  # the Tasks, set by _Batch.watch
    _cancel_requested = False

    def cancel(self, msg: Any | None = None) -> bool:
        if self.done():
            return False
        ret = False
        for child in self._children:
            if child.cancel(msg=msg):
                ret = True
        if ret:
            # Once every Task is done, the batch fails with CancelledError.
            self._cancel_requested = True
        return ret


# Sync actions run inline, called from the frame of the async method that started
# them, so a failed action's traceback reaches that frame (frame.f_back) and keeps it.
# Were the frame's locals still to hold the results (whose errors hold the
# tracebacks) when it returns, every failure would leave a reference cycle for the
# collector: the async methods return their results without keeping them in a local
# (``finally: del``), and a finished _Batch holds none (gather's Tasks keep no such
# frames either).
async def _settle(batch: _Batch[_T]) -> _T:
    """Waits for a fanned-out batch's Tasks (as asyncio.gather) and returns its value."""
    outer = batch.watch(_BatchFuture)
    if outer is not None:
        try:
            await outer
        except BaseException:
            batch.abandon()  # the batch's end in this flow (the params key), as finish()
            raise
    return batch.finish()


class ActionRegistry(RegistryCore):
    """Registry for action functions (sync and async). Thread-safe.

    Example:
        >>> registry = ActionRegistry()
        >>> registry.register("notify", lambda ctx: print("notified"))
        >>> registry.execute("notify", {"user": "alice"})
    """

    def __init__(self) -> None:
        """An empty registry (takes no arguments, as pystator's)."""
        super().__init__()

    async def async_execute(
        self, name: str, context: dict[str, Any], raise_on_error: bool = False
    ) -> ActionResult:
        """Execute a single named action asynchronously (sync actions are called,
        async ones awaited). Raises ActionNotFoundError if the name is unknown."""
        run = _registry_start(self, name, context, raise_on_error)
        try:
            # Not an ActionResult: a _Run (mypy cannot narrow ``type(x) is not C``).
            return run if type(run) is ActionResult else await run  # type: ignore[misc]
        finally:
            del run  # see _settle

    async def async_execute_all(
        self,
        actions: tuple[str, ...] | list[str],
        context: dict[str, Any],
        stop_on_error: bool = False,
    ) -> list[ActionResult]:
        """Execute several actions asynchronously, in order; a missing name gives a
        failed result. With ``stop_on_error=True``, halt after the first failure."""
        run = _registry_all_start(self, actions, context, stop_on_error)
        try:
            # Not a list: a _Run (mypy cannot narrow ``type(x) is not C``).
            return run if type(run) is list else await run  # type: ignore[misc]
        finally:
            del run  # see _settle

    def decorator(
        self,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Callable[[_F], _F]:
        """Decorator registering a function under ``name`` (default: its ``__name__``);
        returns the function unchanged.

        Example:
            >>> @registry.decorator()
            ... def notify_user(ctx: dict) -> None:
            ...     send_email(ctx["user_email"], "Order updated")
        """

        def inner(func: _F) -> _F:
            self.register(name or func.__name__, func, metadata)
            return func

        return inner


class ActionExecutor(ExecutorCore):
    """Executes actions from transition results.

    Supports sequential, parallel, and phased execution modes.

    Example:
        >>> executor = ActionExecutor(action_registry)
        >>> execution = executor.execute(transition_result, context)
    """

    # Typing only (no class attribute is created): the registry property holds the
    # ActionRegistry the executor was given, as pystator's attribute does.
    registry: ActionRegistry

    async def async_execute(
        self, transition_result: TransitionResult | _TransitionResultLike, context: dict[str, Any]
    ) -> ExecutionResult:
        """Execute all actions asynchronously in sequential order."""
        run = _sequential_start(self, transition_result, context)
        try:
            # An ExecutionResult (of either contract's class) or a _Run to await.
            return await run if type(run) is _Run else run  # type: ignore[return-value]
        finally:
            del run  # see _settle

    async def async_execute_parallel(
        self, transition_result: TransitionResult | _TransitionResultLike, context: dict[str, Any]
    ) -> ExecutionResult:
        """Execute all actions concurrently, as ``asyncio.gather`` would."""
        # _settle, inlined (one coroutine less on the hot path).
        batch = _parallel_start(self, transition_result, context)
        outer = batch.watch(_BatchFuture)
        if outer is not None:
            try:
                await outer
            except BaseException:
                batch.abandon()
                raise
        return batch.finish()

    async def async_execute_phased(
        self, transition_result: TransitionResult | _TransitionResultLike, context: dict[str, Any]
    ) -> ExecutionResult:
        """Execute actions in phases: exit -> transition -> enter (each parallel).
        With ``stop_on_error``, stop after a phase with a failure."""
        result, phases = _phased_start(self, transition_result)
        results: list[ActionResult] = []
        phase_results: list[ActionResult] = []
        try:
            if phases is not None:
                for specs in phases:
                    if not specs:
                        continue
                    # _settle, inlined (one coroutine less per phase).
                    batch = _fan_out(self, specs, context)
                    outer = batch.watch(_BatchFuture)
                    if outer is not None:
                        try:
                            await outer
                        except BaseException:
                            batch.abandon()
                            raise
                    phase_results = batch.finish()
                    results.extend(phase_results)
                    if self.stop_on_error and self._any_failed(phase_results):
                        break
                result.action_results = results
                _complete(result)
            return result
        finally:
            del result, results, phase_results  # see _settle

    async def async_execute_with_mode(
        self,
        transition_result: TransitionResult | _TransitionResultLike,
        context: dict[str, Any],
        mode: ExecutionMode = ExecutionMode.SEQUENTIAL,
    ) -> ExecutionResult:
        """Execute with an explicit mode (sequential, parallel, or phased)."""
        if mode == ExecutionMode.PARALLEL:
            return await self.async_execute_parallel(transition_result, context)
        if mode == ExecutionMode.PHASED:
            return await self.async_execute_phased(transition_result, context)
        return await self.async_execute(transition_result, context)

    async def async_execute_specific_parallel(
        self, action_names: list[str] | tuple[str, ...], context: dict[str, Any]
    ) -> list[ActionResult]:
        """Execute specific actions by name, in parallel."""
        if not action_names:
            return []
        return await _settle(_fan_out(self, action_names, context, True))

    async def async_execute_action_spec(
        self, action: ActionSpec | _ActionSpecLike, context: dict[str, Any]
    ) -> ActionResult:
        """Execute a single ActionSpec asynchronously (params, retries and timeout apply)."""
        run = _spec_start(self, action, context)
        try:
            # Not an ActionResult: a _Run (mypy cannot narrow ``type(x) is not C``).
            return run if type(run) is ActionResult else await run  # type: ignore[misc]
        finally:
            del run  # see _settle

    async def async_execute_action_specs_parallel(
        self,
        actions: tuple[ActionSpec | _ActionSpecLike, ...] | list[ActionSpec | _ActionSpecLike],
        context: dict[str, Any],
    ) -> list[ActionResult]:
        """Execute several ActionSpecs in parallel."""
        if not actions:
            return []
        return await _settle(_fan_out(self, actions, context))

    async def async_execute_many(
        self, items: Iterable[tuple[TransitionResult | _TransitionResultLike, dict[str, Any]]]
    ) -> list[ExecutionResult]:
        """Execute many ``(transition_result, context)`` pairs in order, each as
        :meth:`async_execute` would."""
        out: list[ExecutionResult] = []
        run = None
        try:
            for transition_result, context in items:
                run = _sequential_start(self, transition_result, context)
                # An ExecutionResult (of either contract's class) or a _Run to await.
                out.append(await run if type(run) is _Run else run)  # type: ignore[arg-type]
            return out
        finally:
            del out, run  # see _settle
