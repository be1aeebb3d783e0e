"""pytest plugin: run simpleeval's own tests with ``SimpleEval.eval`` routed through
ferrostator's expression engine (``ferrostator._core.Evaluator``) wherever the engine
mirrors the evaluator's configuration.

Loaded with ``-p ferrostator_engine`` (this directory on ``PYTHONPATH``) by
``tests/simpleeval_suite/run_suite.py``. The engine evaluates exactly what
``SimpleEval(names=names)`` with ``functions`` set evaluates; an instance is routed only
when it is configured like that: a plain ``SimpleEval`` (no subclass, so neither
``EvalWithCompoundTypes`` nor a test's own class), simpleeval's default operators (the very
functions), no ``allowed_attrs``, the module's ``ATTR_INDEX_FALLBACK``, its node handlers
as the class defines them, no method of the class replaced (on the instance, as a test
replaces ``parse``, or on the class), and no ``previously_parsed`` tree. Any other
evaluation runs on simpleeval itself. ``simple_eval()`` builds a ``SimpleEval``, so it is
routed too.

The engine itself hands some evaluations back to simpleeval (a names object that is not a
dict, source it does not compile natively): those run on simpleeval. Per test, how many
evaluations ran on the engine, were handed back by it, or were not routed, and the source
of those handed back, are written as JSON to the file named by
``$FERROSTATOR_SUITE_ROUTING``: {"counts": {node id: {"engine": n, "handed_back": n,
"original": n}}, "handed_back": {node id: [source, ...]}}.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections import defaultdict
from collections.abc import Generator
from importlib import metadata
from typing import Any

import pytest
import simpleeval
from simpleeval import SimpleEval

from ferrostator._core import Evaluator

# Captured when the plugin is imported, before any test can change them.
_ORIGINAL_EVAL = SimpleEval.eval
_DEFAULT_OPERATORS = dict(simpleeval.DEFAULT_OPERATORS)


# The class's own attributes (but eval, which this plugin replaces): a test that patches
# one (its parse, a handler) makes every instance one the engine does not mirror.
_MISSING = object()
_CLASS_ATTRIBUTES = {name: value for name, value in vars(SimpleEval).items() if name != "eval"}


def _fresh_instance() -> tuple[dict[type, tuple[bool, Any]], frozenset[str]]:
    """A fresh instance's node handlers, node type -> (bound?, function): bound methods
    of the class's own functions, or its static functions themselves; and the names of
    the attributes an instance holds (``expr`` once it has evaluated)."""
    fresh = SimpleEval()
    handlers = {}
    for node_type, handler in fresh.nodes.items():
        if getattr(handler, "__self__", None) is fresh:
            handlers[node_type] = (True, handler.__func__)
        else:
            handlers[node_type] = (False, handler)
    return handlers, frozenset(vars(fresh)) | {"expr"}


_NODE_HANDLERS, _INSTANCE_ATTRIBUTES = _fresh_instance()

_NO_TEST = "<outside any test>"
_current_test = _NO_TEST
_counts: defaultdict[str, dict[str, int]] = defaultdict(
    lambda: {"engine": 0, "handed_back": 0, "original": 0}
)
_handed_back: defaultdict[str, list[str]] = defaultdict(list)
_patched = False


class _Routing(threading.local):
    active = False  # inside a routed evaluation
    handed_back = False  # ... which called SimpleEval.eval again


_routing = _Routing()


def mirrored(evaluator: SimpleEval, previously_parsed: object) -> bool:
    """Whether ferrostator's engine evaluates exactly what ``evaluator`` does."""
    if type(evaluator) is not SimpleEval or previously_parsed is not None:
        return False
    # An attribute of the instance's own that shadows the class's (a test's parse) is
    # simpleeval's behaviour changed, as is a patched class attribute.
    if not _INSTANCE_ATTRIBUTES.issuperset(vars(evaluator)):
        return False
    attributes = vars(SimpleEval)
    if len(attributes) != len(_CLASS_ATTRIBUTES) + 1 or any(
        attributes.get(name, _MISSING) is not value for name, value in _CLASS_ATTRIBUTES.items()
    ):
        return False
    operators = evaluator.operators
    if not isinstance(operators, dict) or operators.keys() != _DEFAULT_OPERATORS.keys():
        return False
    if any(operators[key] is not function for key, function in _DEFAULT_OPERATORS.items()):
        return False
    if evaluator.allowed_attrs is not None:
        return False
    if evaluator.ATTR_INDEX_FALLBACK != simpleeval.ATTR_INDEX_FALLBACK:
        return False
    nodes = evaluator.nodes
    if not isinstance(nodes, dict) or nodes.keys() != _NODE_HANDLERS.keys():
        return False
    for node_type, (bound, function) in _NODE_HANDLERS.items():
        handler = nodes[node_type]
        if bound:
            if getattr(handler, "__self__", None) is not evaluator:
                return False
            if getattr(handler, "__func__", None) is not function:
                return False
        elif handler is not function:
            return False
    return True


@functools.wraps(_ORIGINAL_EVAL)
def _routed_eval(self: SimpleEval, expr: str, previously_parsed: object = None) -> Any:
    if _routing.active:
        # The engine hands what it does not evaluate itself (a names object that is not
        # a dict, source it does not compile) to SimpleEval(names=...).eval: that one runs
        # on simpleeval, or it would come straight back to the engine.
        _routing.handed_back = True
        return _ORIGINAL_EVAL(self, expr, previously_parsed)
    if not mirrored(self, previously_parsed):
        _counts[_current_test]["original"] += 1
        return _ORIGINAL_EVAL(self, expr, previously_parsed)
    self.expr = expr  # as SimpleEval.eval does: tests read it back
    _routing.active, _routing.handed_back = True, False
    try:
        return Evaluator(self.functions).eval(expr, self.names)
    finally:
        _routing.active = False
        if _routing.handed_back:
            _counts[_current_test]["handed_back"] += 1
            _handed_back[_current_test].append(expr if isinstance(expr, str) else repr(expr))
        else:
            _counts[_current_test]["engine"] += 1


def pytest_configure(config: pytest.Config) -> None:
    global _patched
    SimpleEval.eval = _routed_eval
    _patched = True


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"simpleeval {metadata.version('simpleeval')} ({simpleeval.__file__}): SimpleEval.eval "
        "routed through ferrostator._core.Evaluator where the engine mirrors the instance"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    global _current_test
    _current_test = item.nodeid
    _counts[item.nodeid]  # every test gets a row, evaluating or not
    try:
        return (yield)
    finally:
        _current_test = _NO_TEST


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("FERROSTATOR_SUITE_ROUTING")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(
                {"counts": _counts, "handed_back": _handed_back}, out, indent=0, sort_keys=True
            )


def pytest_unconfigure(config: pytest.Config) -> None:
    global _patched
    if not _patched:
        return
    routed = SimpleEval.eval is _routed_eval
    SimpleEval.eval = _ORIGINAL_EVAL
    _patched = False
    if not routed:
        raise RuntimeError("SimpleEval.eval was replaced during simpleeval's suite")
