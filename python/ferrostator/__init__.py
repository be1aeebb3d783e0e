"""ferrostator: a fast, thread-safe drop-in replacement for pystator's actions module.

Change ``from pystator.actions import ActionRegistry, ActionExecutor`` (and
``from pystator import ActionSpec, TransitionResult``) to ``from ferrostator import ...``.
"""

from ferrostator._core import (
    ACTION_PARAMS_KEY,
    ActionNotFoundError,
    ActionResult,
    ActionSpec,
    ActionStatus,
    ErrorCode,
    ExecutionMode,
    ExecutionResult,
    FSMError,
    TransitionResult,
    __version__,
    is_transient_error,
)
from ferrostator.actions import (
    ActionExecutor,
    ActionFunc,
    ActionRegistry,
    AnyActionFunc,
    AsyncActionFunc,
)

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
    "ErrorCode",
    "ExecutionMode",
    "ExecutionResult",
    "FSMError",
    "TransitionResult",
    "__version__",
    "is_transient_error",
]
