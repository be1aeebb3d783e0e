"""ferrostator: a fast, thread-safe drop-in replacement for pystator's actions module.

Change ``from pystator.actions import ActionRegistry, ActionExecutor`` (and
``from pystator import ActionSpec, TransitionResult``) to ``from ferrostator import ...``,
or leave a pystator application as it is and call :func:`install` once.
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
    _adopt_pystator_errors,
    is_transient_error,
)
from ferrostator._install import install, installed, uninstall
from ferrostator.actions import (
    ActionExecutor,
    ActionFunc,
    ActionRegistry,
    AnyActionFunc,
    AsyncActionFunc,
)

# When pystator is already imported, our errors become subclasses of its own now
# (otherwise when its errors module is imported and one of ours is first made).
_adopt_pystator_errors()

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
    "install",
    "installed",
    "is_transient_error",
    "uninstall",
]
