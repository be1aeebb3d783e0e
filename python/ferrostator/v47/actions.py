"""Action registry and executor of pystator 0.0.47's contract — a drop-in for
``pystator.actions`` 0.0.47 (the same names).

One core serves both contracts: these classes are the seed's (``ferrostator.actions``)
over cores created with pystator 0.0.47's contract (``RegistryCore47``,
``ExecutorCore47``), and they share the seed's async methods. What differs: params
reach an action as keyword arguments (``func(ctx, **params)``, when its signature
accepts them) rather than in the context; re-registering a name replaces the action;
specs have ``when``; ``_http``, ``_code`` and ``_branch`` specs run pystator's
built-in actions; effects add ``compute``; a skipped action is not a success.
``CheckSpec`` is pystator's own (imported from pystator when first used).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ferrostator import actions as _seed
from ferrostator._core import (
    MAX_BRANCH_DEPTH,
    ActionNotFoundError,
    ActionResult,
    ActionStatus,
    ExecutionMode,
    ExecutorCore47,
    RegistryCore47,
    TransitionResult,
    _spec_start,
    action_results_to_payload,
    is_transient_error,
)
from ferrostator._core import ActionSpec47 as ActionSpec
from ferrostator._core import ExecutionResult47 as ExecutionResult
from ferrostator.actions import ActionFunc, AnyActionFunc, AsyncActionFunc

if TYPE_CHECKING:
    from ferrostator._core import _ActionSpecLike

__all__ = [
    "MAX_BRANCH_DEPTH",
    "ActionExecutor",
    "ActionFunc",
    "ActionNotFoundError",
    "ActionRegistry",
    "ActionResult",
    "ActionSpec",
    "ActionStatus",
    "AnyActionFunc",
    "AsyncActionFunc",
    "CheckSpec",  # noqa: F822 (pystator's, from the module __getattr__)
    "ExecutionMode",
    "ExecutionResult",
    "TransitionResult",
    "action_results_to_payload",
    "is_transient_error",
    "logger",
]

# The logger the core writes to (both contracts).
logger = logging.getLogger("ferrostator.actions")


def __getattr__(name: str) -> Any:
    # pystator.actions re-exports pystator's CheckSpec (the `when` check type); it is
    # pystator's own class, so it comes from pystator, only when asked for.
    if name == "CheckSpec":
        from ferrostator._core import _v47_import

        return _v47_import("pystator._types", "CheckSpec").CheckSpec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ActionRegistry(RegistryCore47):
    """Registry for action functions (sync and async), pystator 0.0.47's contract.
    Thread-safe. Registering a name again replaces the action; an action whose
    signature has keyword-only or ``**kwargs`` parameters gets its spec's params as
    keyword arguments (see :meth:`accepts_kwargs`).

    Example:
        >>> registry = ActionRegistry()
        >>> registry.register("notify", lambda ctx, *, channel="email": channel)
        >>> registry.accepts_kwargs("notify")
        True
    """

    def __init__(self) -> None:
        """An empty registry (takes no arguments, as pystator's)."""
        super().__init__()

    async_execute = _seed.ActionRegistry.async_execute
    async_execute_all = _seed.ActionRegistry.async_execute_all
    decorator = _seed.ActionRegistry.decorator


class ActionExecutor(ExecutorCore47):
    """Executes actions from transition results, pystator 0.0.47's contract.

    Supports sequential, parallel, and phased execution modes; ``when`` conditions,
    the built-in ``_http`` / ``_code`` / ``_branch`` actions and keyword params.

    Example:
        >>> executor = ActionExecutor(action_registry)
        >>> execution = executor.execute(transition_result, context)
    """

    # Typing only: the registry property holds the ActionRegistry given.
    registry: ActionRegistry  # type: ignore[assignment]

    async_execute = _seed.ActionExecutor.async_execute
    async_execute_parallel = _seed.ActionExecutor.async_execute_parallel
    async_execute_phased = _seed.ActionExecutor.async_execute_phased
    async_execute_with_mode = _seed.ActionExecutor.async_execute_with_mode
    async_execute_specific_parallel = _seed.ActionExecutor.async_execute_specific_parallel
    async_execute_action_specs_parallel = _seed.ActionExecutor.async_execute_action_specs_parallel
    async_execute_many = _seed.ActionExecutor.async_execute_many

    async def async_execute_action_spec(
        self,
        action: ActionSpec | _ActionSpecLike,
        context: dict[str, Any],
        *,
        branch_enclosing_depth: int = 0,
    ) -> ActionResult:
        """Execute a single ActionSpec asynchronously (``when``, built-in actions,
        keyword params, retries and timeout apply). ``branch_enclosing_depth``
        counts the ``_branch`` actions around it."""
        run = _spec_start(self, action, context, branch_enclosing_depth)
        # Not an ActionResult: a _Run (mypy cannot narrow ``type(x) is not C``).
        return run if type(run) is ActionResult else await run  # type: ignore[misc]
