"""``ferrostator.install()`` / ``uninstall()``: run an unchanged pystator application's
actions through ferrostator.

pystator's engine builds its executor and registries from the names it imported from
``pystator.actions`` (``Orchestrator``, ``StateMachine``, ``machine.orchestrate()``, the
worker's ``MachineRegistry`` and ``Worker``, ``builtin_registries()``, contrib). So
installing is a matter of names: every class and function that ``pystator.actions``
defines and the contract for the installed pystator version provides (see
``_contracts``) is replaced, in ``pystator.actions`` and wherever a loaded pystator
module bound it; modules imported later bind ours from ``pystator.actions``. The
actions' log records go to pystator's logger meanwhile. ``uninstall()`` puts every
original back, including in pystator modules imported while installed.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType
from typing import Any

from ferrostator import _core
from ferrostator._contracts import contract_for

__all__ = ["install", "installed", "uninstall"]

_lock = threading.RLock()


class _Installation:
    """What one install() replaced: by name, pystator's objects and ours."""

    def __init__(self, version: str, originals: dict[str, Any], ours: dict[str, Any]) -> None:
        self.version = version
        self.originals = originals
        self.ours = ours
        self.previous_logger: Any = None
        #: (module, attribute, pystator's function, ours) for each expression function.
        self.expressions: list[tuple[ModuleType, str, Any, Any]] = []


_current: _Installation | None = None
_said_not_native = False


def _pystator_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pystator")
    except metadata.PackageNotFoundError:
        pass
    try:
        import pystator
    except ModuleNotFoundError as exc:
        if exc.name != "pystator":
            raise
        raise ImportError(
            "ferrostator.install() needs pystator, which is not installed "
            "(pip install pystator); ferrostator itself works without it"
        ) from None
    version = getattr(pystator, "__version__", None)
    if not isinstance(version, str):
        raise ImportError("ferrostator.install(): cannot tell which pystator version is installed")
    return version


def _pystator_modules() -> list[ModuleType]:
    return [
        module
        for name, module in list(sys.modules.items())
        if isinstance(module, ModuleType) and (name == "pystator" or name.startswith("pystator."))
    ]


def _rebind(table: dict[int, Any]) -> None:
    """In every loaded pystator module, replaces each global whose value is a key of
    ``table`` (by identity) with the value it maps to."""
    for module in _pystator_modules():
        namespace = vars(module)
        for attr, value in list(namespace.items()):
            replacement = table.get(id(value))
            if replacement is not None and replacement[0] is value:
                namespace[attr] = replacement[1]


def _patch_expressions(installation: _Installation, wanted: Any) -> None:
    """Puts ferrostator's expression functions in place of pystator's (the contract's
    list), unless simpleeval is not a verified version: then says so, once."""
    global _said_not_native
    if not wanted.expressions:
        return
    from ferrostator import expressions

    if not expressions.native():
        if not _said_not_native:
            _said_not_native = True
            import warnings
            from importlib import metadata

            try:
                found = f"simpleeval {metadata.version('simpleeval')} is installed"
            except metadata.PackageNotFoundError:
                found = "simpleeval is not installed"
            warnings.warn(
                f"ferrostator.install(): {found}; ferrostator's expression engine is verified "
                f"with simpleeval {', '.join(expressions.VERIFIED_SIMPLEEVAL)} only, so "
                "pystator's expressions keep running on pystator's own code",
                RuntimeWarning,
                stacklevel=3,
            )
        return
    for target, replacement in wanted.expressions:
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        installation.expressions.append(
            (module, attr, getattr(module, attr), getattr(expressions, replacement))
        )
    _rebind({id(orig): (orig, ours) for _module, _attr, orig, ours in installation.expressions})


def _unpatch_expressions(installation: _Installation) -> None:
    """pystator's expression functions back where install() replaced them, and in the
    modules that bound ours meanwhile."""
    reverse: dict[int, tuple[Any, Any]] = {}
    for module, attr, original, ours in installation.expressions:
        if getattr(module, attr, None) is ours:
            setattr(module, attr, original)
        # ours may stand for two of pystator's (0.0.47's guard and evaluate_bool_expr):
        # a module that imported it meanwhile took it from pystator._expr, listed first
        reverse.setdefault(id(ours), (ours, original))
    _rebind(reverse)


def install() -> None:
    """Run pystator's actions through ferrostator, from now on.

    Call it once, before or after ``import pystator`` (pystator is imported here).
    Replaces the classes of ``pystator.actions`` that ferrostator provides
    (``ActionRegistry``, ``ActionExecutor``, ``ActionResult``, ``ExecutionResult``,
    ``ActionStatus``, ``ExecutionMode``, the action protocols) in that module and in
    every loaded pystator module that bound them, so machines' default registries,
    ``Orchestrator``, ``machine.orchestrate()``, the worker and the builtins use
    ferrostator; action log records go to pystator's logger (``pystator.actions``).
    pystator's expression functions (0.0.25: ``pystator.guards._eval_expression``;
    0.0.47: ``pystator._expr``'s four and the guards') are replaced by
    :mod:`ferrostator.expressions` when simpleeval is a verified version (otherwise a
    RuntimeWarning, once, says they stay pystator's).
    Objects made before the call (a machine's registry, say) stay pystator's;
    ferrostator's executor accepts pystator's registries as they are.

    Idempotent and thread-safe. Raises ImportError when pystator is not installed and
    RuntimeError when its version is not one ferrostator has a contract for.
    """
    global _current
    with _lock:
        if _current is not None:
            return
        version = _pystator_version()
        wanted = contract_for(version)
        contract = importlib.import_module(wanted.module)
        target = importlib.import_module("pystator.actions")
        _core._adopt_pystator_errors()
        if wanted.reads_pystator_fields:
            _core._trust_pystator_types(target.TransitionResult, target.ActionSpec)
        originals: dict[str, Any] = {}
        ours: dict[str, Any] = {}
        for name, value in vars(target).items():
            if getattr(value, "__module__", None) != target.__name__ or not callable(value):
                continue
            replacement = getattr(contract, name, None)
            if replacement is None or replacement is value:
                continue
            originals[name] = value
            ours[name] = replacement
        installation = _Installation(version, originals, ours)
        _rebind({id(originals[name]): (originals[name], ours[name]) for name in originals})
        _patch_expressions(installation, wanted)
        logger = getattr(target, "logger", None)
        if logger is not None:
            installation.previous_logger = _core._use_logger(logger)
        _current = installation


def uninstall() -> None:
    """Undo :func:`install`: every pystator module gets pystator's own objects back
    (also modules imported while installed) and the log records go to
    ``ferrostator.actions`` again. Objects made while installed (an Orchestrator's
    ferrostator executor, say) keep working as they are. Idempotent and thread-safe."""
    global _current
    with _lock:
        installation = _current
        if installation is None:
            return
        _rebind(
            {
                id(installation.ours[name]): (installation.ours[name], original)
                for name, original in installation.originals.items()
            }
        )
        _unpatch_expressions(installation)
        if installation.previous_logger is not None:
            _core._use_logger(installation.previous_logger)
        _current = None


def installed() -> str | None:
    """The pystator version ferrostator is installed for, or None when not installed."""
    installation = _current
    return None if installation is None else installation.version
