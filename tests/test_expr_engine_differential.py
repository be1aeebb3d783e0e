"""pystator 0.0.25's engine on machines whose guards are inline ``expr`` expressions
(tests/_expr_engine.py), with and without ``ferrostator.install()``: the same event
streams through ``Orchestrator.process_event``, ``async_process_event`` and
``machine.process`` + ``ActionExecutor.execute`` must end in the same states and
contexts, return the same results and errors, log the same records and issue the same
simpleeval warnings. Installed, the guards' expressions run on ferrostator's expression
engine (``pystator.guards._eval_expression`` is replaced), so each expression is also
evaluated directly, where its exception's type is visible (the engine logs only the
message).

Also: what install() replaces and uninstall() puts back, and that install() leaves
pystator's expression evaluation alone (and says so) when simpleeval is not a version the
engine was verified against.
"""

from __future__ import annotations

import copy
import importlib
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import ferrostator
import ferrostator.expressions

pytest.importorskip("pystator")
simpleeval = pytest.importorskip("simpleeval")

import _expr_engine  # noqa: E402
import pystator.guards  # noqa: E402

pytestmark = pytest.mark.thread_unsafe(
    reason="install(), logging capture and warning filters are process-wide"
)

RUNS = _expr_engine.runs(_expr_engine.seed_machine_config, v47=False)
SIMPLEEVAL_WARNINGS = (simpleeval.AssignmentAttempted, simpleeval.MultipleExpressions)
ORIGINAL_EVAL_EXPRESSION = pystator.guards._eval_expression


def _expressions() -> Any:
    """ferrostator.expressions, or None while the engine is not built."""
    try:
        return importlib.import_module("ferrostator.expressions")
    except ModuleNotFoundError as exc:
        if exc.name != "ferrostator.expressions":
            raise
        return None


def _engine_expected() -> bool:
    """install() is to patch the expressions: the engine exists and simpleeval is a
    version it was verified against."""
    expressions = _expressions()
    return expressions is not None and expressions.native()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


@contextmanager
def observed(*, installed: bool) -> Iterator[dict[str, Any]]:
    """Runs the block with ferrostator installed or not, pystator's and ferrostator's
    loggers captured at DEBUG and simpleeval's warnings recorded (each time: 'always');
    fills the dict yielded with ``records``, ``warnings`` and ``eval_expression`` (the
    function ``pystator.guards._eval_expression`` was during the block)."""
    handler = _Records()
    loggers = [logging.getLogger(name) for name in ("pystator", "ferrostator")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    seen: dict[str, Any] = {}
    try:
        with warnings.catch_warnings(record=True) as caught:
            for category in SIMPLEEVAL_WARNINGS:
                warnings.simplefilter("always", category)
            if installed:
                ferrostator.install()
            try:
                seen["eval_expression"] = pystator.guards._eval_expression
                yield seen
            finally:
                if installed:
                    ferrostator.uninstall()
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
    seen["records"] = handler.records
    seen["warnings"] = [(w.category.__name__, str(w.message)) for w in caught]


def _run(name: str, stream: list[Any], *, installed: bool) -> dict[str, Any]:
    with observed(installed=installed) as seen:
        outcome = RUNS[name](stream)
    outcome.update(records=seen["records"], warnings=seen["warnings"])
    outcome["eval_expression"] = seen["eval_expression"]
    return outcome


@pytest.fixture(scope="module")
def stream() -> list[Any]:
    return _expr_engine.events(400, seed=7)


@pytest.mark.parametrize("name", list(RUNS))
def test_expression_machines_behave_the_same_with_ferrostator_installed(
    name: str, stream: list[Any]
) -> None:
    plain = _run(name, stream, installed=False)
    with_ferrostator = _run(name, stream, installed=True)
    assert plain.pop("executor") == "pystator.actions.ActionExecutor"
    assert with_ferrostator.pop("executor") == "ferrostator.actions.ActionExecutor"
    assert plain.pop("eval_expression") is ORIGINAL_EVAL_EXPRESSION
    installed_eval = with_ferrostator.pop("eval_expression")
    if _engine_expected():
        assert installed_eval is not ORIGINAL_EVAL_EXPRESSION
        assert installed_eval is ferrostator.expressions.evaluate_guard

    # The stream exercises what matters: guards passing, failing and raising.
    messages = [message for _, _, message in plain["records"]]
    states = {state for state, _ in plain["store"].values()}
    assert {"review", "approved", "escalated", "rejected", "paid"} <= states
    if name == "orchestrator_async":
        # pystator 0.0.25's async guard path skips expression guards (only named
        # guards are awaited): nothing is evaluated, nothing raises.
        assert not any("raised unexpected error" in m for m in messages)
        assert plain["warnings"] == []
    else:
        for fragment in (
            "'limit' is not defined for expression",  # NameNotDefined
            "Function 'round' not defined",
            "division by zero",
            "not supported between instances of 'int' and 'str'",
            "Sorry, Tuple is not available in this evaluator",
            "invalid syntax",
            "Sorry, cannot evaluate empty string",
            "Attribute 'tier' does not exist",
        ):
            assert any(fragment in m for m in messages), fragment
        assert {category for category, _ in plain["warnings"]} == {
            "AssignmentAttempted",
            "MultipleExpressions",
        }
    for key in plain:
        assert with_ferrostator[key] == plain[key], key


# ---------------------------------------------------------------------------
# Each expression directly: pystator.guards._eval_expression(expr, context)
# ---------------------------------------------------------------------------


def _guard_expressions(guards: list[Any]) -> Iterator[str]:
    for guard in guards:
        if isinstance(guard, dict):
            if "expr" in guard:
                yield guard["expr"]
            for key in ("allOf", "anyOf"):
                yield from _guard_expressions(guard.get(key, []))
            if "not" in guard:
                yield from _guard_expressions([guard["not"]])


def _machine_expressions() -> list[str]:
    config = _expr_engine.seed_machine_config()
    found: list[str] = []
    for transition in config["transitions"]:
        for expr in _guard_expressions(transition.get("guards", [])):
            if expr not in found:
                found.append(expr)
    return found


class _Missing(dict):
    """A context answering a missing name through ``__missing__``."""

    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def _contexts() -> dict[str, Callable[[], Any]]:
    """Every claim's context as pystator's engine hands it to a guard (a
    TransitionContext with the event), and as two mappings that answer missing names."""
    from pystator.context import TransitionContext

    out: dict[str, Callable[[], Any]] = {}
    for claim, context in _expr_engine.claims().items():

        def make(context: dict[str, Any] = context) -> Any:
            ctx = TransitionContext(copy.deepcopy(context))
            ctx["_event"] = pystator.Event(trigger="probe")
            ctx["_entity_id"] = "c-x"
            return ctx

        out[claim] = make
    out["defaultdict"] = _expr_engine.defaultdict_context
    out["__missing__"] = _Missing
    return out


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        value = call()
    except Exception as exc:
        return ("raised", *_expr_engine.error_summary(exc))  # type: ignore[misc]
    return ("value", type(value).__name__, repr(value))


def _evaluate_all(
    evaluate: Callable[[str, Any], Any],
) -> list[tuple[str, str, tuple[Any, ...], Any]]:
    rows = []
    for expr in _machine_expressions():
        for claim, make in _contexts().items():
            ctx = make()
            outcome = _outcome(lambda: evaluate(expr, ctx))  # noqa: B023
            rows.append((expr, claim, outcome, _expr_engine._plain(dict(ctx))))
    return rows


def test_each_guard_expression_evaluates_the_same_with_ferrostator_installed() -> None:
    """The value (type and repr) or the exception (type and message) of every guard
    expression of the machine on every claim's context, the context afterwards (a
    defaultdict grows), the warnings issued."""
    with observed(installed=False) as plain:
        plain_rows = _evaluate_all(lambda e, c: pystator.guards._eval_expression(e, c))
    with observed(installed=True) as installed:
        installed_rows = _evaluate_all(lambda e, c: pystator.guards._eval_expression(e, c))
    if _engine_expected():
        assert installed["eval_expression"] is not ORIGINAL_EVAL_EXPRESSION
    raised = {row[2][1] for row in plain_rows if row[2][0] == "raised"}
    assert {
        "simpleeval.NameNotDefined",
        "simpleeval.FunctionNotDefined",
        "simpleeval.FeatureNotAvailable",
        "simpleeval.AttributeDoesNotExist",
        "simpleeval.InvalidExpression",
        "simpleeval.NumberTooHigh",
        "simpleeval.IterableTooLong",
        "builtins.SyntaxError",
        "builtins.ZeroDivisionError",
        "builtins.TypeError",
        "builtins.ValueError",
        "builtins.KeyError",
        "builtins.IndexError",
    } <= raised
    assert {row[2] for row in plain_rows} >= {("value", "bool", "True"), ("value", "bool", "False")}
    for plain_row, installed_row in zip(plain_rows, installed_rows, strict=True):
        assert installed_row == plain_row
    assert installed["warnings"] == plain["warnings"]
    assert installed["records"] == plain["records"]


# ---------------------------------------------------------------------------
# What install() replaces and uninstall() restores
# ---------------------------------------------------------------------------


@pytest.fixture
def uninstalled() -> Iterator[None]:
    ferrostator.uninstall()
    yield
    ferrostator.uninstall()


def test_install_patches_the_guard_expression_and_uninstall_restores_it(uninstalled: None) -> None:
    expressions = importlib.import_module("ferrostator.expressions")
    assert expressions.native(), "simpleeval here is a verified version"
    assert pystator.guards._eval_expression is ORIGINAL_EVAL_EXPRESSION
    ferrostator.install()
    ferrostator.install()  # idempotent
    assert pystator.guards._eval_expression is expressions.evaluate_guard
    ferrostator.uninstall()
    assert pystator.guards._eval_expression is ORIGINAL_EVAL_EXPRESSION
    ferrostator.uninstall()
    assert pystator.guards._eval_expression is ORIGINAL_EVAL_EXPRESSION
    # A second round replaces and restores the same way.
    ferrostator.install()
    assert pystator.guards._eval_expression is expressions.evaluate_guard
    ferrostator.uninstall()
    assert pystator.guards._eval_expression is ORIGINAL_EVAL_EXPRESSION


def test_install_leaves_the_guard_expression_to_pystator_when_simpleeval_is_unverified() -> None:
    """With simpleeval reporting a version the engine was not verified against (in a
    fresh interpreter: the engine reads the version once), install() still installs the
    actions but leaves ``pystator.guards._eval_expression`` as it is, and says so with
    one warning, once per process; the machine behaves as without install()."""
    report = _expr_engine.unverified_report_in_child("1.0.7")
    assert report["native"] is False
    assert report["unchanged_while_installed"] is True
    assert report["restored"] is True
    assert len(report["install_warnings"]) == 1, report["install_warnings"]
    assert report["reinstall_warnings"] == []  # said once (per process)
    _category, message = report["install_warnings"][0]
    assert "simpleeval" in message and "1.0.7" in message and "1.0.8" in message, message
    assert report["executors"] == [
        "pystator.actions.ActionExecutor",
        "ferrostator.actions.ActionExecutor",
    ]
    assert report["differences"] == []
    assert report["same_warnings"] is True
    assert report["simpleeval_warnings"] > 0


def _warnings_seen(*, installed: bool, ignore_simpleeval: bool) -> list[tuple[str, str, str]]:
    """simpleeval's two warnings, from guard expressions: (category, message, the file
    they are attributed to). ``ignore_simpleeval``: with a filter silencing warnings from
    the simpleeval module, as an application may have."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if ignore_simpleeval:
            warnings.filterwarnings("ignore", module="simpleeval")
        if installed:
            ferrostator.install()
        try:
            for expr in ("flag = amount > 1", "amount < 0; amount > 0"):
                pystator.guards._eval_expression(expr, {"amount": 5})
        finally:
            if installed:
                ferrostator.uninstall()
    return [(w.category.__name__, str(w.message), w.filename.rsplit("/", 1)[-1]) for w in caught]


@pytest.mark.parametrize("ignore_simpleeval", [False, True], ids=["always", "ignored-by-module"])
def test_simpleeval_warnings_come_from_simpleeval_with_ferrostator_installed(
    ignore_simpleeval: bool,
) -> None:
    """The warnings are attributed to simpleeval's module either way, so filters by
    module (``-W ignore:::simpleeval``, ``filterwarnings(module="simpleeval")``) keep
    applying to them."""
    plain = _warnings_seen(installed=False, ignore_simpleeval=ignore_simpleeval)
    assert len(plain) == (0 if ignore_simpleeval else 2)
    assert all(filename == "simpleeval.py" for _, _, filename in plain)
    assert _warnings_seen(installed=True, ignore_simpleeval=ignore_simpleeval) == plain
