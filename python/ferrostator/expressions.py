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
functions plus ``len min max abs sum round str int float bool any all``):
``evaluate_expr(expr, namespace)``, ``evaluate_bool_expr(expr, namespace)`` (its
``bool``), :func:`render_template` and :func:`render_template_value`; and pystator
0.0.25's inline guards: ``evaluate_guard(expr, context)`` (``bool``, with simpleeval's
defaults plus ``len min max abs sum``). The first three are the evaluators' own methods
(no Python frame in between).
"""

from __future__ import annotations

import re
from collections.abc import Callable
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

_V47 = _core._contract_evaluator("v47")
_SEED = _core._contract_evaluator("seed")


def evaluator(contract: str = "v47") -> Evaluator:
    """The evaluator of a contract's expressions: ``"seed"`` (pystator 0.0.25's inline
    guards) or ``"v47"`` (pystator 0.0.47's ``pystator._expr``). ImportError when
    simpleeval is not installed."""
    found = _core._contract_evaluator(contract)
    if found is None:
        raise ImportError(
            "ferrostator.expressions needs simpleeval, which is not installed: "
            "pip install simpleeval"
        )
    return found


def native() -> bool:
    """True when expressions run on the native engine: simpleeval is installed at one of
    the ``VERIFIED_SIMPLEEVAL`` versions."""
    return _core._simpleeval_verified()


evaluate_expr: Callable[[str, dict[str, Any]], Any]
evaluate_bool_expr: Callable[[str, dict[str, Any]], bool]
evaluate_guard: Callable[[str, dict[str, Any]], bool]
if _V47 is not None and _SEED is not None:
    # The evaluators' own methods: no Python frame between a caller and the engine.
    evaluate_expr = _V47.eval
    evaluate_bool_expr = _V47.eval_bool
    evaluate_guard = _SEED.eval_bool
else:  # no simpleeval: each says so when called
    evaluate_expr = lambda expr, namespace: evaluator("v47").eval(expr, namespace)  # noqa: E731
    evaluate_bool_expr = lambda expr, namespace: evaluator("v47").eval_bool(expr, namespace)  # noqa: E731
    evaluate_guard = lambda expr, context: evaluator("seed").eval_bool(expr, context)  # noqa: E731


_TEMPLATE = re.compile(r"\{\{\s*(.+?)\s*\}\}")


def render_template(template: str, namespace: dict[str, Any]) -> str:
    """``template`` with each ``{{ expression }}`` replaced by ``str`` of its value; a
    block whose expression fails is left as it is (pystator 0.0.47's
    ``pystator._expr.render_template``)."""

    def substitute(match: re.Match[str]) -> str:
        try:
            return str(evaluate_expr(match.group(1), namespace))
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
