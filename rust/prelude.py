"""Python-level definitions compiled into ``ferrostator._core``.

Enums and exception classes are most faithful (pickling, ``str`` mixins, subclassing,
``__init__`` signatures) when they are ordinary Python classes, so they are written in
Python. This source is embedded in the extension with ``include_str!`` and executed
once, when the core is first used; the Rust side keeps references to the objects.
It is not a module of its own: there is exactly one copy of each class.
"""

import asyncio as _asyncio
import enum
import logging
import sys
import threading

__all__ = [
    "ActionNotFoundError",
    "ActionStatus",
    "ErrorCode",
    "ExecutionMode",
    "FSMError",
    "is_transient_error",
]

logger = logging.getLogger("ferrostator.actions")


class ActionStatus(str, enum.Enum):
    """Outcome status of an executed action."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class ExecutionMode(str, enum.Enum):
    """Strategy for executing multiple actions."""

    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"
    PHASED = "phased"


class ErrorCode(str, enum.Enum):
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


def _restore_error(cls, args, state):
    # Exception.__new__ stores args without running __init__, whose signature
    # differs per subclass; the instance dict carries the rest.
    if not _adopted:
        _adopt_pystator_errors()
    error = cls.__new__(cls, *args)
    error.__dict__.update(state)
    return error


class _ErrorLayout(Exception):
    """FSMError's first base: gives it the instance layout of a Python subclass of
    Exception (pystator's FSMError has it), so that its base can become pystator's."""


class FSMError(_ErrorLayout):
    """Base exception for all state-machine errors.

    Once ``pystator.errors`` is imported, this class also subclasses pystator's
    ``FSMError`` (and ``ActionNotFoundError`` pystator's), so ``except`` clauses
    written for pystator catch ferrostator's errors too.

    Attributes:
        message: Human-readable error description.
        context: Additional context about the error.
        code: Machine-readable error code for programmatic handling.
    """

    def __init__(self, message, context=None, *, code=None):
        if not _adopted:
            _adopt_pystator_errors()
        self.message = message
        self.context = context or {}
        self.code = code
        # Not super(): once pystator's FSMError is a base, its __init__ would reset
        # context and code.
        Exception.__init__(self, message)

    def __str__(self):
        if self.context:
            details = ", ".join(f"{k}={v!r}" for k, v in self.context.items())
            return f"{self.message} ({details})"
        return self.message

    def __reduce__(self):
        return (_restore_error, (type(self), self.args, dict(self.__dict__)))

    def to_dict(self):
        """Serialize the error to a dictionary."""
        return {
            "type": self.__class__.__name__,
            "message": self.message,
            "code": self.code.value if self.code else None,
            "context": self.context,
        }


class ActionNotFoundError(FSMError):
    """Action function not registered."""

    def __init__(self, message, action_name, context=None):
        details = context or {}
        details["action_name"] = action_name
        super().__init__(message, details)
        self.action_name = action_name
        self.code = ErrorCode.ACTION_NOT_FOUND


_adopted = False
_adopt_lock = threading.Lock()


def _adopt_pystator_errors():
    """Makes ``FSMError`` a subclass of ``pystator.errors.FSMError`` and
    ``ActionNotFoundError`` one of ``pystator.errors.ActionNotFoundError``, once
    pystator's errors module is imported (``except`` clauses check the real MRO, so
    nothing less makes ``except pystator.errors.FSMError`` catch ours). pystator is
    never imported from here. Returns True once done (or found impossible)."""
    global _adopted
    if _adopted:
        return True
    errors = sys.modules.get("pystator.errors")
    base = getattr(errors, "FSMError", None)
    not_found = getattr(errors, "ActionNotFoundError", None)
    if not (isinstance(base, type) and isinstance(not_found, type)):
        return False  # not imported, or still being imported
    with _adopt_lock:
        if not _adopted:
            try:
                if issubclass(base, Exception) and not issubclass(FSMError, base):
                    FSMError.__bases__ = (base,)
                if issubclass(not_found, base) and not issubclass(ActionNotFoundError, not_found):
                    ActionNotFoundError.__bases__ = (FSMError, not_found)
            except TypeError:
                # Classes with another instance layout cannot be adopted: ours stay
                # plain Exceptions.
                pass
            _adopted = True
    return True


def _use_logger(new_logger):
    """Points the actions' log records at ``new_logger``; returns the previous one."""
    global logger
    previous, logger = logger, new_logger
    return previous


# Python 3.10: asyncio.TimeoutError is not yet the builtin TimeoutError.
_TRANSIENT = (OSError, ConnectionError, TimeoutError, _asyncio.TimeoutError)


def is_transient_error(exc):
    """Return True if *exc* is a network/I/O error that may succeed on retry
    (OSError, ConnectionError, TimeoutError and their subclasses)."""
    return isinstance(exc, _TRANSIENT)


if sys.version_info >= (3, 14):
    from inspect import iscoroutinefunction as _iscoroutinefunction
else:  # asyncio's also honours the legacy marker used by older mocks
    from asyncio import iscoroutinefunction as _iscoroutinefunction


def _is_async_callable(func):
    return bool(
        _iscoroutinefunction(func)
        or (callable(func) and _iscoroutinefunction(getattr(func, "__call__", None)))  # noqa: B004
    )


# ---------------------------------------------------------------------------
# pystator 0.0.47's contract (ferrostator.v47): what it needs of Python. The Rust
# core (contract.rs) calls these only for v47 objects. Conditions, the `compute`
# effect and the `_http` / `_code` built-in actions run pystator's own code, imported
# when such a spec first appears.
# ---------------------------------------------------------------------------


# The seed's codes, in order, and the three 0.0.47 added.
_V47ErrorCode = enum.Enum(
    "ErrorCode",
    [(code.name, code.value) for code in ErrorCode]
    + [
        ("CONCURRENT_TRANSITION", "concurrent_transition"),
        ("LEASE_LOST", "lease_lost"),
        ("WORKER_STARTUP", "worker_startup"),
    ],
    type=str,
    module="ferrostator.v47",
    qualname="ErrorCode",
)
_V47ErrorCode.__doc__ = ErrorCode.__doc__


def _v47_import(module, what):
    """pystator's ``module``, or ImportError saying that ``what`` needs pystator."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        from importlib import metadata

        try:
            found = f"pystator {metadata.version('pystator')} is installed, which has none"
        except metadata.PackageNotFoundError:
            found = "pystator is not installed"
        raise ImportError(
            f"ferrostator.v47: {what} runs pystator's own implementation ({module}) and "
            f"{found}; install pystator 0.0.47 to use it: pip install 'pystator==0.0.47'"
        ) from exc


def _v47_accepts_kwargs(func):
    """True if ``func``'s signature has keyword-only or ``**kwargs`` parameters."""
    import inspect

    try:
        parameters = inspect.signature(func).parameters.values()
    except (ValueError, TypeError):
        return False
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD)
    return any(p.kind in kinds for p in parameters)


def _v47_evaluate_when(when, context):
    """A ``when`` condition: an expression string (on the expression engine when
    simpleeval is a verified version, else on pystator's) or a check (pystator's)."""
    if isinstance(when, str):
        # both set by the core (rust/defs.rs) before this file runs
        engine = _contract_evaluator("v47") if _simpleeval_verified() else None  # noqa: F821
        if engine is not None:
            return engine.eval_bool(when, context)
        return _v47_import("pystator._expr", "a 'when' expression").evaluate_bool_expr(
            when, context
        )
    return _v47_import("pystator.checks", "a 'when' check").evaluate_check(when, context)


def _v47_check_spec(config):
    """pystator's ``CheckSpec.from_config(config)`` (a ``when`` written as a dict)."""
    return _v47_import("pystator._types", "a 'when' check").CheckSpec.from_config(config)


def _v47_compute(params, context):
    """The ``compute`` effect: each key set to its expression's value, in order."""
    evaluate_expr = _v47_import("pystator._expr", "the 'compute' effect").evaluate_expr
    for key, expression in params.items():
        context[key] = evaluate_expr(expression, context)


class _V47Outcome:
    """A result made here, read by the core as it reads any ActionResult-like object."""

    __slots__ = ("action_name", "error", "result", "status", "success")

    def __init__(self, action_name, success, result=None, error=None):
        self.action_name = action_name
        self.success = success
        self.status = ActionStatus.OK if success else ActionStatus.FAILED
        self.result = result
        self.error = error


def _v47_branch_steps(action, context, depth, max_depth):
    """The steps a ``_branch`` spec takes here: ``(failure, steps)``."""
    if depth > max_depth:
        return _V47Outcome(
            "_branch", False, error=ValueError(f"branch nesting exceeds {max_depth}")
        ), None
    params = action.params or {}
    when = params.get("when")
    if when is None:
        return _V47Outcome("_branch", False, error=ValueError("branch requires when")), None
    if isinstance(when, dict):
        try:
            when = _v47_check_spec(when)
        except Exception as exc:
            return _V47Outcome("_branch", False, error=exc), None
    elif not isinstance(when, str):
        error = ValueError(f"branch.when must be str or check dict, got {type(when).__name__}")
        return _V47Outcome("_branch", False, error=error), None
    steps = (params.get("then") if _v47_evaluate_when(when, context) else params.get("else")) or []
    if not isinstance(steps, list):
        return _V47Outcome(
            "_branch", False, error=ValueError("branch then/else must be lists")
        ), None
    return None, steps


def _v47_step_spec(spec_cls, item):
    """A branch step as a spec: ``(spec, None)`` or ``(None, failure)``."""
    try:
        return (spec_cls.from_config(item) if isinstance(item, dict) else spec_cls(name=item)), None
    except Exception as exc:
        return None, _V47Outcome("_branch", False, error=exc)


def _v47_http_params(action):
    params = dict(action.params)
    if action.timeout is not None:
        params.setdefault("timeout", action.timeout)
    return params


_CODE_TIMEOUT = "Inline code actions do not support per-action timeout"


def _v47_retry_done(executor, name, result, attempt, attempts):
    """0.0.47's retry rules for a built-in action's result: True when it is final."""
    if result.success or attempt == attempts - 1:
        return True
    if result.error is not None and not is_transient_error(result.error):
        if executor.log_execution:
            logger.info("Action '%s' failed with permanent error, skipping retries", name)
        return True
    return False


def _v47_builtin_plan(executor, action, context, depth, max_depth, spec_cls):
    """What a ``_http`` / ``_code`` / ``_branch`` spec does, written once for both paths.

    A generator: it yields each thing the path must wait for and is sent its outcome —
    ``("step", spec)`` run one step of a branch (its ActionResult); ``("load", name)``
    import pystator's runner for ``_http``/``_code``; ``("run", params)`` call that
    runner (its result); ``("sleep", delay)`` back off before a retry — and returns the
    action's result. :func:`_v47_builtin_sync` and :func:`_v47_builtin_async` carry the
    waits out, blocking or awaiting."""
    name = action.name
    if name == "_branch":
        failure, steps = _v47_branch_steps(action, context, depth + 1, max_depth)
        if failure is not None:
            return failure
        last = None
        for item in steps:
            spec, failure = _v47_step_spec(spec_cls, item)
            if failure is not None:
                return failure
            last = yield ("step", spec)
            if not last.success and executor.stop_on_error:
                return last
        if last is None:
            return _V47Outcome("_branch", True, result={"branch": "no_steps"})
        return last
    yield ("load", name)
    if name == "_http":
        params = _v47_http_params(action)
    elif action.timeout is not None:
        return _V47Outcome(name, False, error=ValueError(_CODE_TIMEOUT))
    else:
        params = action.params
    attempts = 1 + max(action.retry, 0)
    for attempt in range(attempts):
        if attempt > 0:
            yield ("sleep", action.retry_backoff * (2 ** (attempt - 1)))
        result = yield ("run", params)
        if _v47_retry_done(executor, name, result, attempt, attempts):
            return result
    raise AssertionError("unreachable")


def _v47_runner(name, blocking):
    """pystator's function running an ``_http`` or ``_code`` action (imported on first use)."""
    if name == "_http":
        http = _v47_import("pystator.http_action", "the 'http' action")
        return http.execute_http_action if blocking else http.async_execute_http_action
    code = _v47_import("pystator.code_action", "the 'code' action").execute_code_action
    if blocking:
        return code
    # Inline code is sync: the async paths run it in a worker thread, as pystator does.
    return lambda params, context: _asyncio.to_thread(code, params, context)


def _v47_builtin_sync(executor, action, context, depth, max_depth, spec_cls):
    """Runs a ``_http`` / ``_code`` / ``_branch`` spec on the sync path."""
    import time

    plan = _v47_builtin_plan(executor, action, context, depth, max_depth, spec_cls)
    runner = outcome = None
    while True:
        try:
            what, arg = plan.send(outcome)
        except StopIteration as done:
            return done.value
        outcome = None
        if what == "step":
            outcome = executor.execute_action_spec(arg, context, branch_enclosing_depth=depth + 1)
        elif what == "load":
            runner = _v47_runner(arg, blocking=True)
        elif what == "run":
            outcome = runner(arg, context)
        else:
            time.sleep(arg)


async def _v47_builtin_async(executor, action, context, depth, max_depth, spec_cls):
    """Runs a ``_http`` / ``_code`` / ``_branch`` spec on the async paths."""
    plan = _v47_builtin_plan(executor, action, context, depth, max_depth, spec_cls)
    runner = outcome = None
    while True:
        try:
            what, arg = plan.send(outcome)
        except StopIteration as done:
            return done.value
        outcome = None
        if what == "step":
            outcome = await executor.async_execute_action_spec(
                arg, context, branch_enclosing_depth=depth + 1
            )
        elif what == "load":
            runner = _v47_runner(arg, blocking=False)
        elif what == "run":
            outcome = await runner(arg, context)
        else:
            await _asyncio.sleep(arg)
