"""pystator 0.0.47's engine on a machine driven by expressions (tests/_expr_engine.py):
``expr`` guards, actions with ``when`` strings (also in a ``_branch`` action and its
steps), ``compute`` effects (later keys using earlier ones; one failing part-way), an
``_http`` action whose url, headers and body are ``{{ }}`` templates (urlopen stubbed:
the rendered requests are compared) and a ``when`` that raises mid-stream. The same
event streams through ``Orchestrator.process_event`` / ``async_process_event``,
``machine.process`` + ``execute`` and ``machine.aprocess`` + ``async_execute`` (also
on a ``defaultdict`` context) with and without ``ferrostator.install()`` must end in the
same states and contexts, with the same results, errors (type and message), log records,
simpleeval warnings and HTTP requests. Each expression and template of the machine is
also evaluated directly through pystator's functions, which install() replaces.

Also: what install() replaces and uninstall() puts back, and that install() leaves
pystator's expression functions alone (and says so) when simpleeval is not a version
the engine was verified against.

Runs in .venvs/v47 (``make test-v47``).
"""

from __future__ import annotations

import copy
import importlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pystator._expr")
simpleeval = pytest.importorskip("simpleeval")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import _expr_engine  # noqa: E402
import pystator  # noqa: E402
import pystator._expr  # noqa: E402
import pystator.guards  # noqa: E402
import pystator.http_action  # noqa: E402

import ferrostator  # noqa: E402

pytestmark = pytest.mark.thread_unsafe(
    reason="install(), logging capture, warning filters and the urlopen stub are process-wide"
)

RUNS = _expr_engine.runs(_expr_engine.v47_machine_config, v47=True)
SIMPLEEVAL_WARNINGS = (simpleeval.AssignmentAttempted, simpleeval.MultipleExpressions)

# (module, attribute) -> the name ferrostator.expressions gives its replacement.
PATCHED = {
    (pystator._expr, "evaluate_expr"): "evaluate_expr",
    (pystator._expr, "evaluate_bool_expr"): "evaluate_bool_expr",
    (pystator._expr, "render_template"): "render_template",
    (pystator._expr, "render_template_value"): "render_template_value",
    (pystator.http_action, "render_template_value"): "render_template_value",
    (pystator.guards, "_eval_expression"): None,  # one of ferrostator.expressions' own
}
ORIGINALS = {key: getattr(*key) for key in PATCHED}


def _expressions() -> Any:
    """ferrostator.expressions, or None while the engine is not built."""
    try:
        return importlib.import_module("ferrostator.expressions")
    except ModuleNotFoundError as exc:
        if exc.name != "ferrostator.expressions":
            raise
        return None


def _engine_expected() -> bool:
    expressions = _expressions()
    return expressions is not None and expressions.native()


def _current() -> dict[tuple[Any, str], Any]:
    return {key: getattr(*key) for key in PATCHED}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


@contextmanager
def observed(*, installed: bool) -> Iterator[dict[str, Any]]:
    """Runs the block with ferrostator installed or not, urlopen stubbed, pystator's
    and ferrostator's loggers captured at DEBUG and simpleeval's warnings recorded;
    fills the dict yielded with ``records``, ``warnings``, ``requests`` and
    ``functions`` (pystator's expression functions during the block)."""
    handler = _Records()
    loggers = [logging.getLogger(name) for name in ("pystator", "ferrostator")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    seen: dict[str, Any] = {}
    try:
        with warnings.catch_warnings(record=True) as caught, _expr_engine.stub_http() as requests:
            for category in SIMPLEEVAL_WARNINGS:
                warnings.simplefilter("always", category)
            if installed:
                ferrostator.install()
            try:
                seen["functions"] = _current()
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
    seen["requests"] = requests


def _is_ours(function: Any) -> bool:
    """One of ferrostator.expressions' functions (some are the evaluators' own methods)."""
    expressions = importlib.import_module("ferrostator.expressions")
    return any(function is getattr(expressions, name) for name in expressions.__all__)


def _assert_functions(functions: dict[tuple[Any, str], Any], *, installed: bool) -> None:
    if not installed:
        assert functions == ORIGINALS
    elif _engine_expected():
        for key, function in functions.items():
            assert function is not ORIGINALS[key], key
            assert _is_ours(function), key


def _run(name: str, stream: list[Any], *, installed: bool) -> dict[str, Any]:
    with observed(installed=installed) as seen:
        outcome = RUNS[name](stream)
    _assert_functions(seen["functions"], installed=installed)
    outcome.update(records=seen["records"], warnings=seen["warnings"], requests=seen["requests"])
    return outcome


@pytest.fixture(scope="module")
def stream() -> list[Any]:
    return _expr_engine.events(400, seed=7)


def _failed_actions(outcome: dict[str, Any]) -> set[tuple[str, Any]]:
    return {
        (result[0], result[4][0] if result[4] else None)
        for _trigger, _target, results in outcome["executions"]
        for result in results
        if not result[1]
    }


@pytest.mark.parametrize("name", list(RUNS))
def test_expression_machine_behaves_the_same_with_ferrostator_installed(
    name: str, stream: list[Any]
) -> None:
    plain = _run(name, stream, installed=False)
    with_ferrostator = _run(name, stream, installed=True)
    assert plain.pop("executor") == "pystator.actions.ActionExecutor"
    assert with_ferrostator.pop("executor") == "ferrostator.v47.actions.ActionExecutor"

    # The stream exercises what matters.
    messages = [message for _, _, message in plain["records"]]
    for fragment in (
        "'limit' is not defined for expression",  # an expr guard's NameNotDefined
        "Sorry, Tuple is not available in this evaluator",
        "invalid syntax",
        "HTTP action failed",
    ):
        assert any(fragment in m for m in messages), fragment
    assert {category for category, _ in plain["warnings"]} == {
        "AssignmentAttempted",
        "MultipleExpressions",
    }
    raised = [t[1] for t in plain["transitions"] if t[0] == "raised"]
    if name.endswith("defaultdict"):
        assert raised == []  # the defaultdict answers vip_level
        assert any("vip_level" in ctx for _, ctx in plain["store"].values())
    else:
        assert (
            "simpleeval.NameNotDefined",
            "'vip_level' is not defined for expression 'vip_level >= 2'",
        ) in raised
    assert ("_effect.compute", "decimal.DivisionByZero") in _failed_actions(plain)
    assert ("_http", "builtins.ConnectionError") in _failed_actions(plain)
    rendered = "\n".join(repr(request) for request in plain["requests"])
    assert "X-tier', 'GOLD'" in rendered and "{{ 1/0 }}" in rendered
    # A template naming a missing key stays as it is, unless the defaultdict answers.
    unresolved = "'0 and {{ 1/0 }}'" if name.endswith("defaultdict") else "{{ nope }} and"
    assert unresolved in rendered
    assert any(
        "before" in ctx and "after" not in ctx for _, ctx in plain["store"].values()
    )  # a compute effect that failed part-way

    for key in plain:
        assert with_ferrostator[key] == plain[key], key


# ---------------------------------------------------------------------------
# Each expression and template directly, through pystator's functions
# ---------------------------------------------------------------------------


def _walk_guards(guards: list[Any], exprs: list[str]) -> None:
    for guard in guards:
        if isinstance(guard, dict):
            if "expr" in guard:
                exprs.append(guard["expr"])
            for key in ("allOf", "anyOf"):
                _walk_guards(guard.get(key, []), exprs)
            if "not" in guard:
                _walk_guards([guard["not"]], exprs)


def _walk_actions(actions: list[Any], exprs: list[str], templates: list[Any]) -> None:
    for action in actions:
        if not isinstance(action, dict):
            continue
        if isinstance(action.get("when"), str):
            exprs.append(action["when"])
        if "compute" in action:
            exprs.extend(action["compute"].values())
        if "branch" in action:
            exprs.append(action["branch"]["when"])
            for key in ("then", "else"):
                _walk_actions(action["branch"].get(key, []), exprs, templates)
        if "http" in action:
            templates.append({k: action["http"].get(k) for k in ("url", "headers", "body")})


def _machine_expressions() -> tuple[list[str], list[Any]]:
    exprs: list[str] = []
    templates: list[Any] = []
    for transition in _expr_engine.v47_machine_config()["transitions"]:
        _walk_guards(transition.get("guards", []), exprs)
        _walk_actions(transition.get("actions", []), exprs, templates)
    return list(dict.fromkeys(exprs)), templates


class _Missing(dict):
    """A context answering a missing name through ``__missing__``."""

    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def _contexts() -> dict[str, Callable[[], Any]]:
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


# What each of pystator's functions is called with (looked up at call time: installed,
# ferrostator's).
CALLS: dict[str, Callable[[str, Any], Any]] = {
    "evaluate_expr": lambda e, c: pystator._expr.evaluate_expr(e, c),
    "evaluate_bool_expr": lambda e, c: pystator._expr.evaluate_bool_expr(e, c),
    "guards._eval_expression": lambda e, c: pystator.guards._eval_expression(e, c),
    "render_template": lambda e, c: pystator._expr.render_template("<{{ " + e + " }}>", c),
}


def _evaluate_all() -> list[tuple[Any, ...]]:
    exprs, templates = _machine_expressions()
    rows: list[tuple[Any, ...]] = []
    for claim, make in _contexts().items():
        for call_name, call in CALLS.items():
            for expr in exprs:
                ctx = make()
                outcome = _outcome(lambda: call(expr, ctx))  # noqa: B023
                rows.append((call_name, expr, claim, outcome, _expr_engine._plain(dict(ctx))))
        for template in templates:
            for call_name, render in (
                ("render_template_value", pystator._expr.render_template_value),
                ("http_action.render_template_value", pystator.http_action.render_template_value),
            ):
                ctx = make()
                outcome = _outcome(lambda: render(template, ctx))  # noqa: B023
                rows.append((call_name, repr(template), claim, outcome))
    return rows


def test_each_expression_and_template_evaluates_the_same_with_ferrostator_installed() -> None:
    """Every expression of the machine (guards, ``when`` strings, ``compute`` values)
    through ``evaluate_expr``, ``evaluate_bool_expr``, ``guards._eval_expression`` and
    ``render_template``, and the ``_http`` templates through both
    ``render_template_value``, on every claim's context: the value (type and repr) or
    the exception (type and message), the context afterwards, the warnings."""
    with observed(installed=False) as plain:
        plain_rows = _evaluate_all()
    with observed(installed=True) as installed:
        installed_rows = _evaluate_all()
    _assert_functions(installed["functions"], installed=True)
    raised = {row[3][1] for row in plain_rows if row[3][0] == "raised"}
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
        "decimal.DivisionByZero",
        "builtins.TypeError",
        "builtins.ValueError",
        "builtins.KeyError",
        "builtins.IndexError",
    } <= raised
    values = {row[3][1] for row in plain_rows if row[3][0] == "value"}
    assert {"bool", "int", "float", "str", "Decimal", "dict", "NoneType"} <= values
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


def test_install_patches_pystators_expression_functions_and_uninstall_restores_them(
    uninstalled: None,
) -> None:
    expressions = importlib.import_module("ferrostator.expressions")
    assert expressions.native(), "simpleeval here is a verified version"
    assert _current() == ORIGINALS
    for _ in range(2):  # a second round replaces and restores the same way
        ferrostator.install()
        ferrostator.install()  # idempotent
        for (module, attr), ours in PATCHED.items():
            function = getattr(module, attr)
            assert function is not ORIGINALS[module, attr], (module.__name__, attr)
            assert _is_ours(function), (module.__name__, attr)
            if ours is not None:
                assert function is getattr(expressions, ours), (module.__name__, attr)
        ferrostator.uninstall()
        assert _current() == ORIGINALS
        ferrostator.uninstall()
        assert _current() == ORIGINALS


def test_install_leaves_expressions_to_pystator_when_simpleeval_is_unverified() -> None:
    """With simpleeval reporting a version the engine was not verified against (in a
    fresh interpreter: the engine reads the version once), install() still installs the
    actions but leaves pystator's expression functions as they are, and says so with one
    warning, once per process; the machine (whose ``when`` and ``compute`` ferrostator's
    executor then evaluates on simpleeval) behaves as without install()."""
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
        "ferrostator.v47.actions.ActionExecutor",
    ]
    assert report["differences"] == []
    assert report["same_warnings"] is True
    assert report["simpleeval_warnings"] > 0


def _warnings_seen(*, installed: bool, ignore_simpleeval: bool) -> list[tuple[str, str, str]]:
    """simpleeval's two warnings, from pystator's functions and from a ``when`` run by
    the (installed: ferrostator's) executor: (category, message, the file they are
    attributed to). ``ignore_simpleeval``: with a filter silencing warnings from the
    simpleeval module, as an application may have."""
    import pystator.actions
    from pystator import ActionSpec

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if ignore_simpleeval:
            warnings.filterwarnings("ignore", module="simpleeval")
        if installed:
            ferrostator.install()
        try:
            ctx = {"amount": 5}
            pystator._expr.evaluate_expr("flag = amount > 1", ctx)
            pystator.guards._eval_expression("amount < 0; amount > 0", ctx)
            pystator._expr.render_template("{{ x = 2 }}", ctx)
            executor = pystator.actions.ActionExecutor(pystator.actions.ActionRegistry())
            spec = ActionSpec.from_config({"set": {"y": 1}, "when": "amount; 1"})
            executor.execute_action_specs([spec], ctx)
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
    assert len(plain) == (0 if ignore_simpleeval else 4)
    assert all(filename == "simpleeval.py" for _, _, filename in plain)
    assert _warnings_seen(installed=True, ignore_simpleeval=ignore_simpleeval) == plain
