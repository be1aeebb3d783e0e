"""Type stubs for ``ferrostator._core``, the Rust core of ferrostator.

The public names are re-exported by :mod:`ferrostator` and :mod:`ferrostator.actions`;
import them from there. Names starting with an underscore are private helpers of
``ferrostator.actions`` (the async entry points and their awaitables) and may change
without notice.

Public semantics are those of pystator 0.0.25's ``pystator.actions`` (and of
``pystator.ActionSpec`` / ``pystator.TransitionResult``). Where pystator's own objects
are accepted (specs and transition results are read through their attributes), the
parameters are typed with the structural protocols ``_ActionSpecLike`` and
``_TransitionResultLike``, which pystator's frozen dataclasses satisfy.
"""

import asyncio
from collections.abc import Callable, Generator, Iterable, Mapping, MutableMapping
from datetime import datetime
from enum import Enum
from typing import (
    Any,
    ClassVar,
    Final,
    Generic,
    Literal,
    Protocol,
    TypeAlias,
    TypeVar,
    final,
    overload,
)

from typing_extensions import Self, disjoint_base

__all__ = [
    "_Attempt",
    "_Run",
    "ExecutorCore",
    "_Batch",
    "_complete",
    "_fan_out",
    "_parallel_start",
    "_phased_start",
    "_registry_all_start",
    "_registry_start",
    "_sequential_start",
    "_spec_start",
    "RegistryCore",
    "ActionResult",
    "ExecutionResult",
    "ActionSpec",
    "TransitionResult",
    "__version__",
    "ACTION_PARAMS_KEY",
    "ActionStatus",
    "ExecutionMode",
    "ErrorCode",
    "FSMError",
    "ActionNotFoundError",
    "is_transient_error",
    "_restore_error",
    "_adopt_pystator_errors",
    "_use_logger",
    "_trust_pystator_types",
    "MAX_BRANCH_DEPTH",
    "_V47_EFFECT_TYPES",
    "ActionSpec47",
    "ExecutionResult47",
    "ExecutorCore47",
    "RegistryCore47",
    "_V47ErrorCode",
    "_v47_import",
    "action_results_to_payload",
    "apply_effect",
    "Evaluator",
    "VERIFIED_SIMPLEEVAL",
    "_contract_evaluator",
    "_expression_cache_size",
    "_simpleeval_verified",
]

_T_co = TypeVar("_T_co", covariant=True)
_E = TypeVar("_E", bound=BaseException)

_Context: TypeAlias = dict[str, Any]
"""The mutable context dict handed to every action."""

_ActionCallable: TypeAlias = Callable[[dict[str, Any]], Any]
"""A registered action: ``func(context)``, returning a value or an awaitable."""

__version__: Final[str]
"""The version of the ferrostator package (from Cargo.toml)."""

ACTION_PARAMS_KEY: Final = "_action_params"
"""Context key under which an action finds its spec's ``params`` while it runs."""
MAX_BRANCH_DEPTH: Final = 8
"""pystator 0.0.47's contract: ``_branch`` actions nest at most this deep."""
_V47_EFFECT_TYPES: Final[list[str]]
"""pystator 0.0.47's declarative effect types (``ferrostator.v47.EFFECT_TYPES``)."""

# ---------------------------------------------------------------------------
# Enums and errors (Python classes compiled into the extension; see prelude.py)
# ---------------------------------------------------------------------------

class ActionStatus(str, Enum):
    """Outcome status of an executed action."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"

class ExecutionMode(str, Enum):
    """Strategy for executing multiple actions."""

    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"
    PHASED = "phased"

class ErrorCode(str, Enum):
    """Machine-readable error codes for programmatic error handling."""

    GUARD_REJECTED = "guard_rejected"
    GUARD_EXECUTION_ERROR = "guard_execution_error"
    VALIDATION_FAILED = "validation_failed"
    INVALID_STATE = "invalid_state"
    INVALID_TRIGGER = "invalid_trigger"
    TERMINAL_STATE = "terminal_state"
    TIMEOUT = "timeout"
    CONFIG = "config"
    ACTION_FAILED = "action_failed"
    STALE_VERSION = "stale_version"
    GUARD_NOT_FOUND = "guard_not_found"
    ACTION_NOT_FOUND = "action_not_found"
    UNDEFINED_STATE = "undefined_state"

class FSMError(Exception):
    """Base exception for all state-machine errors.

    ``str(error)`` is the message, followed by the context as ``(key=value, ...)``
    when there is any. Instances pickle and copy with all their attributes.

    Attributes:
        message: Human-readable error description.
        context: Additional context about the error (``{}`` when none was given).
        code: Machine-readable error code for programmatic handling, or None.
    """

    message: str
    context: dict[str, Any]
    code: ErrorCode | None
    def __init__(
        self, message: str, context: dict[str, Any] | None = None, *, code: ErrorCode | None = None
    ) -> None:
        """Create an error with a message, optional context and optional error code."""

    def to_dict(self) -> dict[str, Any]:
        """Serialize the error to a dictionary: ``type``, ``message``, ``code`` (the
        code's value or None) and ``context``."""

class ActionNotFoundError(FSMError):
    """Action function not registered.

    Raised by ``ActionRegistry.get``/``unregister``/``execute`` for an unknown name
    and, in strict mode, by the executor for a missing action. ``code`` is
    ``ErrorCode.ACTION_NOT_FOUND`` and ``context["action_name"]`` holds the name.

    Attributes:
        action_name: The name that was not found.
    """

    action_name: str
    def __init__(
        self, message: str, action_name: str, context: dict[str, Any] | None = None
    ) -> None:
        """Create the error; ``action_name`` is also recorded in ``context``."""

def is_transient_error(exc: BaseException) -> bool:
    """Return True if *exc* is a network/I/O error that may succeed on retry
    (OSError, ConnectionError, TimeoutError and their subclasses).

    The executor retries an action (when its spec has ``retry > 0``) only after a
    transient error or a timeout; any other error ends the action at once.
    """

def _restore_error(cls: type[_E], args: tuple[Any, ...], state: dict[str, Any]) -> _E:
    """Unpickling helper of FSMError: rebuilds an error without running ``__init__``."""

def _adopt_pystator_errors() -> bool:
    """Once ``pystator.errors`` is imported (never imported from here): makes
    ``FSMError`` a subclass of pystator's ``FSMError`` and ``ActionNotFoundError`` one
    of pystator's ``ActionNotFoundError``, so ``except`` clauses written for pystator
    catch ferrostator's errors. Returns True once done (or found impossible)."""

def _use_logger(new_logger: Any) -> Any:
    """Points the actions' log records at ``new_logger`` (a ``logging.Logger``);
    returns the previous one. Used by ``ferrostator.install()``."""

def _trust_pystator_types(transition_type: type[Any], spec_type: type[Any]) -> None:
    """Reads instances of exactly these classes (pystator's ``TransitionResult`` and
    ``ActionSpec``) field by field, with pystator 0.0.25's semantics for
    ``all_action_specs`` and ``has_params``. Used by ``ferrostator.install()``."""

# ---------------------------------------------------------------------------
# Structural types accepted where pystator's objects may be passed
# ---------------------------------------------------------------------------

class _ActionSpecLike(Protocol):
    """What the executor reads from a spec: ``ActionSpec`` or pystator's."""

    @property
    def name(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def has_params(self) -> bool: ...
    @property
    def timeout(self) -> float | None: ...
    @property
    def retry(self) -> int: ...
    @property
    def retry_backoff(self) -> float: ...

class _RegistryLike(Protocol):
    """What the executor asks of a registry other than ferrostator's (pystator's
    ``ActionRegistry``, say): ``has``, ``get`` and ``is_async``."""

    def has(self, name: str, /) -> bool: ...
    def get(self, name: str, /) -> Any: ...
    def is_async(self, name: str, /) -> bool: ...

class _TransitionResultLike(Protocol):
    """What the executor reads from a transition result: ``TransitionResult`` or
    pystator's."""

    @property
    def success(self) -> bool: ...
    @property
    def actions_to_execute(self) -> tuple[_ActionSpecLike, ...]: ...
    @property
    def on_exit_actions(self) -> tuple[_ActionSpecLike, ...]: ...
    @property
    def on_enter_actions(self) -> tuple[_ActionSpecLike, ...]: ...
    @property
    def all_action_specs(self) -> tuple[_ActionSpecLike, ...]: ...

class _ResultLike(Protocol):
    @property
    def success(self) -> bool: ...

# ---------------------------------------------------------------------------
# Value types
# ---------------------------------------------------------------------------

@disjoint_base
class ActionSpec:
    """Action specification: a named function, a parameterized action, or a
    declarative effect.

    For named functions ``name`` is the function's name in the registry. For effects
    ``effect`` is the effect type (set, timestamp, increment, decrement, append,
    clear), ``name`` is ``_effect.<type>`` and ``params`` holds the effect data.

    Immutable (assigning a field raises ``dataclasses.FrozenInstanceError``),
    hashable when its params are, comparable with ``==``, picklable, and usable with
    ``copy.replace`` (Python 3.13+) and ``match`` patterns.

    Attributes:
        name: Action function name (or the synthetic ``_effect.<type>``).
        params: Parameters for the action (put in the context under
            ``ACTION_PARAMS_KEY`` while it runs), or the effect data.
        effect: Effect type if this is a declarative effect, else None.
        timeout: Per-attempt timeout in seconds (async execution only); None: none.
        retry: Number of retries after a transient failure; 0 means no retries.
        retry_backoff: Base delay in seconds; retry *n* waits
            ``retry_backoff * 2 ** (n - 1)``.
    """

    __match_args__ = ("name", "params", "effect", "timeout", "retry", "retry_backoff")
    def __new__(
        cls,
        name: str | None = "",
        params: Mapping[str, Any] | None = None,
        effect: str | None = None,
        timeout: float | None = None,
        retry: int = 0,
        retry_backoff: float = 1.0,
    ) -> Self:
        """Create a spec. ``name`` defaults to ``""`` (None also means that), ``params``
        to ``{}`` (likewise), ``retry`` to 0 and ``retry_backoff`` to 1.0.

        Raises:
            ValueError: if neither ``name`` nor ``effect`` is given, or if
                ``timeout``/``retry_backoff`` is NaN.
            TypeError: if ``name`` is not a str, ``params`` not a mapping, ``effect``
                not a str or None, ``timeout``/``retry_backoff`` not an int or float,
                or ``retry`` not an int.
        """

    @property
    def name(self) -> str:
        """Action function name (or the synthetic ``_effect.<type>`` for effects)."""

    @property
    def params(self) -> Mapping[str, Any]:
        """Parameters for the action, or the effect data (``{}`` when none)."""

    @property
    def effect(self) -> str | None:
        """Effect type if this is a declarative effect (None for named functions)."""

    @property
    def timeout(self) -> float | None:
        """Per-attempt timeout in seconds (async execution only). None means no timeout."""

    @property
    def retry(self) -> int:
        """Number of retries after a transient failure. 0 (or less) means no retries."""

    @property
    def retry_backoff(self) -> float:
        """Base backoff in seconds for the exponential retry delay."""

    @property
    def is_effect(self) -> bool:
        """True if this is a declarative effect (not a named function)."""

    @property
    def has_params(self) -> bool:
        """True if this action has parameters."""

    @classmethod
    def from_config(cls, config: str | dict[str, Any]) -> Self:
        """Create from config: a string name, a dict with ``name`` (plus optional
        ``params``, ``timeout``, ``retry``, ``retry_backoff``), or an effect dict such
        as ``{"increment": "count"}`` or ``{"set": {"status": "done"}}``.

        Raises:
            ValueError: for any other config, or malformed effect data.
        """

    def __replace__(self, **changes: Any) -> Self:
        """``copy.replace(spec, **changes)`` (Python 3.13+): a copy with fields changed.

        Raises:
            TypeError: for a keyword that is not a field.
        """

@disjoint_base
class TransitionResult:
    """Immutable result of a transition computation: what the engine decided should
    happen. The executor runs its actions: exit, then transition, then enter.

    Immutable (assigning a field raises ``dataclasses.FrozenInstanceError``),
    hashable when its fields are, comparable with ``==``, picklable, and usable with
    ``copy.replace`` (Python 3.13+) and ``match`` patterns.

    Attributes:
        success: Whether the transition was successful.
        source_state: The state before the transition attempt.
        target_state: The new state (None if failed).
        trigger: The event that triggered this transition.
        actions_to_execute: Transition action specs to run after persistence.
        on_exit_actions: Exit action specs from the source state.
        on_enter_actions: Entry action specs for the target state.
        error: Error details if the transition failed.
        metadata: Additional context.
    """

    __match_args__ = (
        "success",
        "source_state",
        "target_state",
        "trigger",
        "actions_to_execute",
        "on_exit_actions",
        "on_enter_actions",
        "error",
        "metadata",
    )
    def __new__(
        cls,
        success: bool,
        source_state: str,
        target_state: str | None,
        trigger: str,
        actions_to_execute: Iterable[ActionSpec] | None = None,
        on_exit_actions: Iterable[ActionSpec] | None = None,
        on_enter_actions: Iterable[ActionSpec] | None = None,
        error: FSMError | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Self:
        """Create a transition result. The action phases default to ``()`` (any
        iterable is snapshotted into a tuple; None means ``()``) and ``metadata`` to
        ``{}`` (None means ``{}``).

        Raises:
            TypeError: if an action phase is a str, None or not iterable.
        """

    @property
    def success(self) -> bool:
        """Whether the transition was successful."""

    @property
    def source_state(self) -> str:
        """The state before the transition attempt."""

    @property
    def target_state(self) -> str | None:
        """The new state (None if the transition failed)."""

    @property
    def trigger(self) -> str:
        """The event that triggered this transition."""

    @property
    def actions_to_execute(self) -> tuple[ActionSpec, ...]:
        """Transition action specs to run after persistence."""

    @property
    def on_exit_actions(self) -> tuple[ActionSpec, ...]:
        """Exit action specs from the source state."""

    @property
    def on_enter_actions(self) -> tuple[ActionSpec, ...]:
        """Entry action specs for the target state."""

    @property
    def error(self) -> FSMError | None:
        """Error details if the transition failed."""

    @property
    def metadata(self) -> dict[str, Any]:
        """Additional context."""

    @property
    def all_action_specs(self) -> tuple[ActionSpec, ...]:
        """All action specs in execution order: exit -> transition -> enter."""

    @property
    def all_actions(self) -> tuple[str, ...]:
        """Action names in execution order."""

    @property
    def is_self_transition(self) -> bool:
        """True if the transition succeeded and source == target."""

    @property
    def state_changed(self) -> bool:
        """True if the transition succeeded and the state actually changed."""

    @classmethod
    def success_result(
        cls,
        source_state: str,
        target_state: str,
        trigger: str,
        actions: Iterable[ActionSpec] | None = None,
        on_exit: Iterable[ActionSpec] | None = None,
        on_enter: Iterable[ActionSpec] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Self:
        """Create a successful transition result (phases default to ``()``, metadata
        to ``{}``)."""

    @classmethod
    def failure_result(
        cls,
        source_state: str,
        trigger: str,
        error: FSMError,
        metadata: Mapping[str, Any] | None = None,
    ) -> Self:
        """Create a failed transition result (``target_state`` None, no actions)."""

    @classmethod
    def no_op_result(
        cls, current_state: str, trigger: str, metadata: Mapping[str, Any] | None = None
    ) -> Self:
        """Create a no-op result: stay in the same state, no actions; ``metadata``
        gets ``no_op=True`` and ``reason="no_matching_transition"``."""

    def __replace__(self, **changes: Any) -> Self:
        """``copy.replace(result, **changes)`` (Python 3.13+): a copy with fields changed.

        Raises:
            TypeError: for a keyword that is not a field.
        """

@disjoint_base
class ActionResult:
    """Result of one action execution (a mutable record, like pystator's dataclass:
    ``==`` compares fields, unhashable, picklable).

    Attributes:
        success: Whether the action executed successfully (True for skipped ones).
        action_name: Name of the action.
        result: The action's return value; for a skipped action, the reason.
        error: The exception if the action failed, else None.
        status: Detailed status (ok, failed, skipped).
    """

    __match_args__ = ("success", "action_name", "result", "error", "status")
    __hash__: ClassVar[None]  # type: ignore[assignment]
    success: bool
    action_name: str
    result: Any
    error: Exception | None
    status: ActionStatus
    def __new__(
        cls,
        success: bool,
        action_name: str,
        result: Any = None,
        error: Exception | None = None,
        status: ActionStatus | None = ...,
    ) -> Self:
        """Create a result; ``status`` defaults to ``ActionStatus.OK`` (None means that too)."""

    @classmethod
    def ok(cls, action_name: str, result: Any = None) -> Self:
        """A successful result carrying the action's return value."""

    @classmethod
    def fail(cls, action_name: str, error: Exception) -> Self:
        """A failed result carrying the exception (status FAILED)."""

    @classmethod
    def skipped(cls, action_name: str, reason: str | None = None) -> Self:
        """A skipped result (``success`` True, status SKIPPED); ``result`` holds the
        reason, ``"not_registered"`` when none (or an empty one) is given."""

    @property
    def is_skipped(self) -> bool:
        """True when the status is ``ActionStatus.SKIPPED``."""

@disjoint_base
class ExecutionResult:
    """Result of executing all actions of a transition (a mutable record, like
    pystator's dataclass: ``==`` compares fields, unhashable, picklable).

    Attributes:
        transition_result: The transition whose actions ran (the very object given
            to the executor, which may also be a pystator TransitionResult).
        action_results: One ActionResult per action run, in spec order.
        execution_mode: How the actions ran (sequential, parallel or phased).
        started_at: When execution started (an aware UTC datetime).
        completed_at: When execution finished (aware UTC), None until then.
    """

    __match_args__ = (
        "transition_result",
        "action_results",
        "execution_mode",
        "started_at",
        "completed_at",
    )
    __hash__: ClassVar[None]  # type: ignore[assignment]
    transition_result: TransitionResult
    action_results: list[ActionResult]
    execution_mode: ExecutionMode
    started_at: datetime
    completed_at: datetime | None
    def __new__(
        cls,
        transition_result: TransitionResult,
        action_results: list[ActionResult] | None = None,
        execution_mode: ExecutionMode | None = None,
        started_at: datetime | None = None,
        completed_at: datetime | None = None,
    ) -> Self:
        """Create a result. ``action_results`` defaults to a new ``[]``,
        ``execution_mode`` to SEQUENTIAL and ``started_at`` to now (UTC); None
        stands for each default."""

    @property
    def all_succeeded(self) -> bool:
        """True when every action result succeeded (also when there are none)."""

    @property
    def failed_actions(self) -> list[str]:
        """Names of the actions that failed, in execution order."""

    @property
    def succeeded_actions(self) -> list[str]:
        """Names of the actions that succeeded (skipped ones included), in execution order."""

    @property
    def action_count(self) -> int:
        """Number of action results."""

    @property
    def duration_ms(self) -> float | None:
        """Milliseconds between ``started_at`` and ``completed_at``; None until completed."""

# ---------------------------------------------------------------------------
# Registry and executor cores (subclassed by ActionRegistry / ActionExecutor)
# ---------------------------------------------------------------------------

@disjoint_base
class RegistryCore:
    """Registry for action functions (sync and async). Thread-safe: lookups take no
    lock, and actions may register, unregister or execute re-entrantly from any
    thread.

    Use :class:`ferrostator.ActionRegistry`, which adds the async methods and the
    decorator.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    def __init__(self) -> None:
        """Create an empty registry."""

    def register(
        self, name: str, func: _ActionCallable, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Register an action function (sync, or async: a coroutine function or an
        object whose ``__call__`` is one). Thread-safe.

        Raises:
            ValueError: for an empty name or a name already registered.
            TypeError: for a non-str name, a non-callable ``func``, or metadata that
                is not a mapping.
        """

    def unregister(self, name: str) -> None:
        """Unregister an action function. Thread-safe.

        Raises:
            ActionNotFoundError: if no action is registered under ``name``.
        """

    def get(self, name: str) -> _ActionCallable:
        """Look up a registered action callable by name.

        Raises:
            ActionNotFoundError: if no action is registered under ``name``.
        """

    def has(self, name: str) -> bool:
        """Check whether an action is registered."""

    def get_metadata(self, name: str) -> dict[str, Any]:
        """A copy of the metadata registered with an action (``{}`` if absent)."""

    def is_async(self, name: str) -> bool:
        """Return True if the named action is an async function."""

    def execute(self, name: str, context: _Context, raise_on_error: object = None) -> ActionResult:
        """Execute a single named action synchronously.

        An exception raised by the action is returned in a failed result, or raised
        when ``raise_on_error=True``. An async action cannot run here: it gives a
        failed result with a RuntimeError (use ``async_execute``).

        Raises:
            ActionNotFoundError: if no action is registered under ``name``.
        """

    def execute_all(
        self, actions: Iterable[str], context: _Context, stop_on_error: object = None
    ) -> list[ActionResult]:
        """Execute several actions in order; a missing name gives a failed result
        (with ActionNotFoundError). With ``stop_on_error=True``, halt after the first
        failure. Returns the results in execution order."""

    def list_actions(self) -> list[str]:
        """All registered action names, in registration order."""

    def clear(self) -> None:
        """Remove all registered actions."""

    def __len__(self) -> int:
        """The number of registered actions."""

    def __contains__(self, name: object, /) -> bool:
        """Whether an action is registered under ``name``."""

    def __copy__(self) -> Self:
        """``copy.copy(registry)``: a registry of the same type over the same contents
        (an action registered through either is seen by both, as with a shallow copy
        of pystator's registry); the instance ``__dict__`` is copied shallowly."""

    def __deepcopy__(self, memo: dict[int, Any], /) -> Self:
        """``copy.deepcopy(registry)``: an independent registry holding the same
        actions, with deep copies of their metadata and of the instance ``__dict__``."""

@disjoint_base
class ExecutorCore:
    """Executes the actions of transition results with pystator's semantics:
    declarative effects run inline, missing actions are skipped (or raise in strict
    mode), params are put in the context under ``ACTION_PARAMS_KEY``, transient
    failures are retried per spec, and ``stop_on_error`` halts a batch.

    Use :class:`ferrostator.ActionExecutor`, which adds the async methods.
    """

    def __new__(
        cls,
        registry: RegistryCore | _RegistryLike,
        stop_on_error: bool | None = False,
        log_execution: bool | None = True,
        default_mode: ExecutionMode | None = ...,
        strict: bool | None = False,
    ) -> Self:
        """Create an executor (None stands for a flag's default).

        Args:
            registry: The ActionRegistry containing the action callables: ferrostator's
                (read lock-free), or any object with ``has``, ``get`` and ``is_async``
                methods, such as pystator's ``ActionRegistry`` (asked at each lookup).
            stop_on_error: Halt batch execution on the first failure (default False).
            log_execution: Log skips, permanent errors and exceptions (default True).
            default_mode: Default execution mode for batches (default SEQUENTIAL).
            strict: Raise ActionNotFoundError for missing actions instead of
                skipping them (default False).

        Raises:
            TypeError: if ``registry`` is neither (the message names its type,
                module-qualified).
        """

    @property
    def registry(self) -> RegistryCore | _RegistryLike:
        """The registry the actions are looked up in (TypeError if set to anything
        that is not a registry)."""

    @registry.setter
    def registry(self, value: RegistryCore | _RegistryLike) -> None: ...
    @property
    def stop_on_error(self) -> bool:
        """Halt batch execution on the first failure."""

    @stop_on_error.setter
    def stop_on_error(self, value: bool) -> None: ...
    @property
    def log_execution(self) -> bool:
        """Log skipped actions, permanent errors and exceptions."""

    @log_execution.setter
    def log_execution(self, value: bool) -> None: ...
    @property
    def strict(self) -> bool:
        """Raise ActionNotFoundError for missing actions instead of skipping them."""

    @strict.setter
    def strict(self, value: bool) -> None: ...
    @property
    def default_mode(self) -> ExecutionMode:
        """Default execution mode for batches."""

    @default_mode.setter
    def default_mode(self, value: ExecutionMode) -> None: ...
    def execute(
        self, transition_result: _TransitionResultLike, context: _Context
    ) -> ExecutionResult:
        """Execute all actions of a transition result sequentially (exit ->
        transition -> enter). A failed transition executes nothing. Async actions
        cannot run here and give failed results (use ``async_execute``).

        Raises:
            ActionNotFoundError: in strict mode, for an action that is not registered.
        """

    def execute_many(
        self, items: Iterable[tuple[_TransitionResultLike, _Context]]
    ) -> list[ExecutionResult]:
        """Execute many ``(transition_result, context)`` pairs in order, each as
        :meth:`execute` would, in one call.

        Raises:
            TypeError: for an item that is not a 2-tuple (a list pair is refused).
            ActionNotFoundError: in strict mode, for an action that is not registered.
        """

    def execute_specific(
        self, action_names: Iterable[str], context: _Context
    ) -> list[ActionResult]:
        """Execute specific actions by name sequentially (no params, no retries).

        Raises:
            ActionNotFoundError: in strict mode, for an action that is not registered.
        """

    def validate_actions_exist(self, transition_result: _TransitionResultLike) -> list[str]:
        """Names of the transition's actions that are not registered (effects excluded)."""

    def execute_action_spec(self, action: _ActionSpecLike, context: _Context) -> ActionResult:
        """Execute a single ActionSpec synchronously (params and retries apply; the
        timeout applies only to async execution).

        Raises:
            ActionNotFoundError: in strict mode, if the action is not registered.
        """

    def execute_action_specs(
        self, actions: Iterable[_ActionSpecLike], context: _Context
    ) -> list[ActionResult]:
        """Execute several ActionSpecs sequentially, honouring ``stop_on_error``.

        Raises:
            ActionNotFoundError: in strict mode, for an action that is not registered.
        """

    @staticmethod
    def _any_failed(results: Iterable[_ResultLike]) -> bool:
        """True if any of the results failed (used by the phased fan-out)."""

# ---------------------------------------------------------------------------
# Private: the async entry points used by ferrostator.actions
# ---------------------------------------------------------------------------

@final
class _Run(Generic[_T_co]):
    """A suspended run of actions, resumable as a coroutine (``await`` it, or wrap
    it in an asyncio Task). Its value is the ActionResult, list or ExecutionResult
    its entry point promised."""

    def __await__(self) -> Generator[Any, Any, _T_co]: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def send(self, value: Any) -> Any: ...
    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any: ...
    def close(self) -> None: ...

@final
class _Attempt:
    """One attempt at an action with a timeout, awaited through ``asyncio.wait_for``.
    Its value is a tagged pair: ``(0, value)``, ``(1, exc)`` (the action failed) or
    ``(2, exc)`` (the call could not be made)."""

    def __await__(self) -> Generator[Any, Any, tuple[int, Any]]: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def send(self, value: Any) -> Any: ...
    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any: ...
    def close(self) -> None: ...

@final
class _Batch(Generic[_T_co]):
    """A started parallel batch: the Tasks still running, and how to finish."""

    @property
    def tasks(self) -> list[asyncio.Task[Any]] | None:
        """The Tasks to gather, or None when every action already finished."""

    def watch(
        self, future_class: Callable[..., asyncio.Future[None]]
    ) -> asyncio.Future[None] | None:
        """What the batch is awaited through, as ``asyncio.gather(*tasks)`` would give:
        ``future_class(loop=...)`` holding the Tasks as ``_children``, with gather's
        done callback on every Task; None when no Task runs."""

    def finish(self) -> _T_co:
        """Put the Tasks' results in place (once all are done) and return the batch's value.
        Ends the batch: in a dict context, removes the params key if an action with params
        ran (in the flow that awaited the batch)."""

    def abandon(self) -> None:
        """Ends the batch when awaiting it raised (a failed action, cancellation): the
        params key as in :meth:`finish`; its Tasks may still run, as gather's do."""

def _sequential_start(
    executor: ExecutorCore, transition_result: _TransitionResultLike, context: _Context
) -> ExecutionResult | _Run[ExecutionResult]:
    """``ActionExecutor.async_execute``: the finished ExecutionResult, or a _Run to await."""

def _spec_start(
    executor: ExecutorCore, action: _ActionSpecLike, context: _Context, depth: int | None = None
) -> ActionResult | _Run[ActionResult]:
    """``ActionExecutor.async_execute_action_spec``: the ActionResult, or a _Run to await.
    ``depth``: how many ``_branch`` actions enclose it (pystator 0.0.47's contract)."""

def _registry_start(
    registry: RegistryCore, name: str, context: _Context, raise_on_error: object = None
) -> ActionResult | _Run[ActionResult]:
    """``ActionRegistry.async_execute``: the ActionResult, or a _Run to await."""

def _registry_all_start(
    registry: RegistryCore, actions: Iterable[str], context: _Context, stop_on_error: object = None
) -> list[ActionResult] | _Run[list[ActionResult]]:
    """``ActionRegistry.async_execute_all``: the results list, or a _Run to await."""

def _parallel_start(
    executor: ExecutorCore, transition_result: _TransitionResultLike, context: _Context
) -> _Batch[ExecutionResult]:
    """``ActionExecutor.async_execute_parallel``: a _Batch whose ``finish`` gives the
    ExecutionResult. Must be called with an asyncio event loop running."""

def _phased_start(
    executor: ExecutorCore,
    transition_result: _TransitionResultLike,
) -> tuple[ExecutionResult, tuple[tuple[_ActionSpecLike, ...], ...] | None]:
    """``ActionExecutor.async_execute_phased``, first step: the ExecutionResult and the
    three phases (exit, transition, enter), or ``(result, None)`` when the transition
    failed (the result is then complete)."""

@overload
def _fan_out(
    executor: ExecutorCore,
    specs: Iterable[_ActionSpecLike],
    context: _Context,
    names: Literal[False] = False,
) -> _Batch[list[ActionResult]]:
    """One parallel batch of specs (or of names, when ``names`` is true): a _Batch
    whose ``finish`` gives the list of results. Must be called with an asyncio event
    loop running."""

@overload
def _fan_out(
    executor: ExecutorCore, specs: Iterable[str], context: _Context, names: Literal[True]
) -> _Batch[list[ActionResult]]: ...
def _complete(er: ExecutionResult) -> ExecutionResult:
    """Mark an ExecutionResult completed now and return it."""

# ---------------------------------------------------------------------------
# pystator 0.0.47's contract (ferrostator.v47): the same core classes, created with
# that contract.
# ---------------------------------------------------------------------------

class _V47ErrorCode(str, Enum):
    """Machine-readable error codes for programmatic error handling (pystator 0.0.47:
    ``ferrostator.v47.ErrorCode``)."""

    GUARD_REJECTED = "guard_rejected"
    GUARD_EXECUTION_ERROR = "guard_execution_error"
    VALIDATION_FAILED = "validation_failed"
    INVALID_STATE = "invalid_state"
    INVALID_TRIGGER = "invalid_trigger"
    TERMINAL_STATE = "terminal_state"
    TIMEOUT = "timeout"
    CONFIG = "config"
    ACTION_FAILED = "action_failed"
    STALE_VERSION = "stale_version"
    GUARD_NOT_FOUND = "guard_not_found"
    ACTION_NOT_FOUND = "action_not_found"
    UNDEFINED_STATE = "undefined_state"
    CONCURRENT_TRANSITION = "concurrent_transition"
    LEASE_LOST = "lease_lost"
    WORKER_STARTUP = "worker_startup"

def _v47_import(module: str, what: str) -> Any:
    """pystator's ``module``, or ImportError saying that ``what`` needs pystator."""

class ActionSpec47(ActionSpec):
    """Action specification, pystator 0.0.47's contract (``ferrostator.v47.ActionSpec``):
    the seed's fields plus ``when`` (a condition checked before the action runs: an
    expression string or pystator's CheckSpec) and ``custom``."""

    __match_args__ = (  # type: ignore[assignment]
        "name",
        "params",
        "effect",
        "timeout",
        "retry",
        "retry_backoff",
        "when",
        "custom",
    )

    def __new__(
        cls,
        name: str = "",
        params: Mapping[str, Any] | None = None,
        effect: str | None = None,
        timeout: float | None = None,
        retry: int = 0,
        retry_backoff: float = 1.0,
        when: Any = None,
        custom: bool = False,
    ) -> Self: ...
    @property
    def when(self) -> Any:
        """The condition checked before the action runs (an expression string or a
        CheckSpec), or None."""

    @property
    def custom(self) -> bool:
        """True when the action was declared with the explicit ``custom:`` form."""

    @property
    def is_custom(self) -> bool:
        """True if this action was declared with the explicit ``custom:`` form."""

    @classmethod
    def from_config(cls, config: str | Mapping[str, Any]) -> Self:
        """Create from config (pystator 0.0.47's forms): a string name; a dict with
        ``custom``, ``name`` (+params), ``http``, ``branch``, ``code``, or an effect
        (``set``, ``timestamp``, ``increment``, ``decrement``, ``append``, ``clear``,
        ``compute``), looked for in that order; each may carry ``when``, ``timeout``,
        ``retry``, ``retry_backoff``.

        Raises:
            ValueError: for a config of none of these forms, or a malformed one.
        """

class ExecutionResult47(ExecutionResult):
    """Result of executing all actions of a transition, pystator 0.0.47's contract
    (``ferrostator.v47.ExecutionResult``): a skipped action is not a success."""

    @property
    def skipped_actions(self) -> list[str]:
        """Names of the actions that were skipped (not registered, or ``when`` false)."""

class RegistryCore47(RegistryCore):
    """The registry core with pystator 0.0.47's contract: registering a name again
    replaces the action; params reach actions whose signature accepts keyword
    arguments as ``func(ctx, **params)``. Use :class:`ferrostator.v47.ActionRegistry`."""

    def accepts_kwargs(self, name: str) -> bool:
        """True if the named action accepts keyword arguments (keyword-only or
        ``**kwargs`` parameters): its spec's params are passed as keyword arguments."""

class ExecutorCore47(ExecutorCore):
    """The executor core with pystator 0.0.47's contract: ``when`` conditions, the
    built-in ``_http`` / ``_code`` / ``_branch`` actions, keyword params, the
    ``compute`` effect. Use :class:`ferrostator.v47.ActionExecutor`. Also accepts
    pystator's own ActionRegistry (asked at each lookup, ``accepts_kwargs`` included)."""

    def __new__(
        cls,
        registry: RegistryCore | Any,
        stop_on_error: bool | None = False,
        log_execution: bool | None = True,
        default_mode: ExecutionMode | None = ...,
        strict: bool | None = False,
    ) -> Self: ...
    def execute_action_spec(  # type: ignore[override]
        self, action: _ActionSpecLike, context: _Context, *, branch_enclosing_depth: int = 0
    ) -> ActionResult:
        """Execute a single ActionSpec synchronously: its ``when``, built-in actions,
        effects, keyword params and retries apply. ``branch_enclosing_depth`` counts
        the ``_branch`` actions around it (at most MAX_BRANCH_DEPTH)."""

def apply_effect(
    effect_type: str, params: Mapping[str, Any], ctx: MutableMapping[str, Any]
) -> None:
    """Apply a declarative effect to a context, as pystator 0.0.47's
    ``pystator.effects.apply_effect`` (``compute`` evaluates with pystator's
    expression evaluator).

    Raises:
        ValueError: for an unknown effect type.
        TypeError: increment/decrement of a non-number, append to a non-list.
    """

def action_results_to_payload(results: Iterable[_ResultLike]) -> list[dict[str, Any]]:
    """JSON-friendly rows, one per result: ``name``, ``status``, ``success``,
    ``skipped``, then ``error`` (as a string) and ``result`` when not None."""

# -- expressions (rust/expr) -------------------------------------------------------

#: The simpleeval versions the expression engine is verified against.
VERIFIED_SIMPLEEVAL: Final[list[str]]

@final
class Evaluator:
    """simpleeval expressions, compiled once per text and evaluated natively.

    ``Evaluator(functions).eval(expr, names)`` answers as
    ``s = simpleeval.SimpleEval(names=names); s.functions = functions; s.eval(expr)``
    does: the same value, the same exception (simpleeval's classes and messages), the
    same warnings. ``functions`` is held by reference and read at each call.
    """

    def __new__(cls, functions: dict[str, Any]) -> Evaluator: ...
    @property
    def functions(self) -> dict[str, Any]:
        """The function table."""
    def eval(self, expr: str, names: dict[str, Any]) -> Any:
        """``expr``'s value with ``names`` as its variables."""
    def eval_bool(self, expr: str, names: dict[str, Any]) -> bool:
        """``bool(self.eval(expr, names))``."""

def _contract_evaluator(contract: str) -> Evaluator | None: ...
def _simpleeval_verified() -> bool: ...
def _expression_cache_size() -> int: ...
