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
