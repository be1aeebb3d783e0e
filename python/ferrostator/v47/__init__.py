"""ferrostator for pystator 0.0.47's contract: every public name of pystator 0.0.47's
action surface (``from pystator import ...`` / ``from pystator.actions import ...``
become ``from ferrostator.v47 import ...`` / ``from ferrostator.v47.actions import ...``).

``ferrostator`` and ``ferrostator.actions`` keep pystator 0.0.25's contract. Both are
served by one Rust core; README.md lists what differs between them.
"""

from ferrostator._core import (
    _V47_EFFECT_TYPES,
    FSMError,
    TransitionResult,
    __version__,
    apply_effect,
)
from ferrostator._core import _V47ErrorCode as ErrorCode
from ferrostator.v47.actions import (
    MAX_BRANCH_DEPTH,
    ActionExecutor,
    ActionFunc,
    ActionNotFoundError,
    ActionRegistry,
    ActionResult,
    ActionSpec,
    ActionStatus,
    AnyActionFunc,
    AsyncActionFunc,
    ExecutionMode,
    ExecutionResult,
    action_results_to_payload,
    is_transient_error,
)

#: The declarative effect types of pystator 0.0.47 (a frozenset, as pystator's;
#: ``ActionSpec.from_config`` checks set, timestamp, increment, decrement, append,
#: clear, compute in that order).
EFFECT_TYPES = frozenset(_V47_EFFECT_TYPES)

__all__ = [
    "EFFECT_TYPES",
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
    "ErrorCode",
    "ExecutionMode",
    "ExecutionResult",
    "FSMError",
    "TransitionResult",
    "__version__",
    "action_results_to_payload",
    "apply_effect",
    "is_transient_error",
]
