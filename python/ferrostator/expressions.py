"""pystator's expressions — ``expr`` guards, ``when`` conditions, ``compute`` effects and
``{{ }}`` templates — on ferrostator's native engine.

pystator evaluates them with simpleeval, building a ``SimpleEval`` and parsing the text
on every call. The engine compiles each distinct text once and evaluates it natively,
with simpleeval's rules: the same values, the same exceptions (simpleeval's classes and
messages), the same warnings, the same refusals. What it does not compile runs on
simpleeval itself. It is verified against the simpleeval versions in
``VERIFIED_SIMPLEEVAL``; with another version installed, every evaluation runs on
simpleeval (and :func:`ferrostator.install` leaves pystator's own functions in place).

The functions mirror pystator 0.0.47's ``pystator._expr`` (simpleeval's default
functions plus ``len min max abs sum round str int float bool any all``) and pystator
0.0.25's inline guards (:func:`evaluate_guard`: plus ``len min max abs sum``).
"""

from __future__ import annotations

import re
from typing import Any

from ferrostator import _core
from ferrostator._core import VERIFIED_SIMPLEEVAL, Evaluator

__all__ = [
    "VERIFIED_SIMPLEEVAL",
    "Evaluator",
    "evaluate_bool_expr",
    "evaluate_expr",
    "evaluate_guard",
    "evaluator",
    "native",
    "render_template",
    "render_template_value",
]

_evaluators: dict[str, Evaluator] = {}


def evaluator(contract: str = "v47") -> Evaluator:
    """The evaluator of a contract's expressions: ``"seed"`` (pystator 0.0.25's inline
    guards) or ``"v47"`` (pystator 0.0.47's ``pystator._expr``). ImportError when
    simpleeval is not installed."""
    found = _evaluators.get(contract)
    if found is None:
        found = _core._contract_evaluator(contract)
        if found is None:
            raise ImportError(
                "ferrostator.expressions needs simpleeval, which is not installed: "
                "pip install simpleeval"
            )
        _evaluators[contract] = found
    return found


def native() -> bool:
    """True when expressions run on the native engine: simpleeval is installed at one of
    the ``VERIFIED_SIMPLEEVAL`` versions."""
    return _core._simpleeval_verified()


def evaluate_expr(expr: str, namespace: dict[str, Any]) -> Any:
    """``expr``'s value with ``namespace`` as its variables (pystator 0.0.47's
    ``pystator._expr.evaluate_expr``)."""
    return (_evaluators.get("v47") or evaluator("v47")).eval(expr, namespace)


def evaluate_bool_expr(expr: str, namespace: dict[str, Any]) -> bool:
    """``bool(evaluate_expr(expr, namespace))`` (pystator 0.0.47's
    ``pystator._expr.evaluate_bool_expr``, which its ``expr`` guards and ``when``
    conditions use)."""
    return (_evaluators.get("v47") or evaluator("v47")).eval_bool(expr, namespace)


def evaluate_guard(expr: str, context: dict[str, Any]) -> bool:
    """An inline guard expression as pystator 0.0.25 evaluates it
    (``pystator.guards._eval_expression``: functions ``len min max abs sum``)."""
    return (_evaluators.get("seed") or evaluator("seed")).eval_bool(expr, context)


_TEMPLATE = re.compile(r"\{\{\s*(.+?)\s*\}\}")


def render_template(template: str, namespace: dict[str, Any]) -> str:
    """``template`` with each ``{{ expression }}`` replaced by ``str`` of its value; a
    block whose expression fails is left as it is (pystator 0.0.47's
    ``pystator._expr.render_template``)."""
    engine = _evaluators.get("v47") or evaluator("v47")

    def substitute(match: re.Match[str]) -> str:
        try:
            return str(engine.eval(match.group(1), namespace))
        except Exception:
            return match.group(0)

    return _TEMPLATE.sub(substitute, template)


def render_template_value(value: Any, namespace: dict[str, Any]) -> Any:
    """Templates rendered in a str, or in every str inside dicts and lists (other values
    as they are: pystator 0.0.47's ``pystator._expr.render_template_value``)."""
    if isinstance(value, str):
        return render_template(value, namespace)
    if isinstance(value, dict):
        return {key: render_template_value(item, namespace) for key, item in value.items()}
    if isinstance(value, list):
        return [render_template_value(item, namespace) for item in value]
    return value
