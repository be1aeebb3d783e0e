"""Which ferrostator module serves which pystator release: the one place that maps a
pystator version to the contract ``ferrostator.install()`` puts in its place.

Each contract names a module that mirrors ``pystator.actions`` of that release name for
name; ``install()`` replaces every class and function that the installed
``pystator.actions`` defines itself and the contract module also provides.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Contract:
    """What ferrostator puts in place of one pystator release's actions module."""

    #: The ferrostator module mirroring that release's ``pystator.actions``.
    module: str
    #: The release's ``TransitionResult`` and ``ActionSpec`` are slotted dataclasses
    #: whose properties derive from their fields as 0.0.25's do
    #: (``all_action_specs`` is exit + transition + enter, ``has_params`` is
    #: ``bool(params)``), so the executor may read their fields directly.
    reads_pystator_fields: bool = False
    #: pystator's expression functions (``module:attribute``) and the functions of
    #: ``ferrostator.expressions`` that replace them when simpleeval is a verified version.
    expressions: tuple[tuple[str, str], ...] = ()


#: pystator version -> its contract.
CONTRACTS: dict[str, Contract] = {
    "0.0.25": Contract(
        "ferrostator.actions",
        reads_pystator_fields=True,
        expressions=(("pystator.guards:_eval_expression", "evaluate_guard"),),
    ),
    # 0.0.47's ActionSpec adds `when` and `custom` (read: `when`, under its contract).
    # Its guards, `when`, `compute` and `_http` templates all go through pystator._expr;
    # guards._eval_expression is replaced too (it imports evaluate_bool_expr per call).
    "0.0.47": Contract(
        "ferrostator.v47.actions",
        reads_pystator_fields=True,
        expressions=(
            ("pystator._expr:evaluate_expr", "evaluate_expr"),
            ("pystator._expr:evaluate_bool_expr", "evaluate_bool_expr"),
            ("pystator._expr:render_template", "render_template"),
            ("pystator._expr:render_template_value", "render_template_value"),
            ("pystator.guards:_eval_expression", "evaluate_bool_expr"),
        ),
    ),
}


def contract_for(version: str) -> Contract:
    """The contract for pystator ``version``; RuntimeError naming the supported
    versions when there is none."""
    try:
        return CONTRACTS[version]
    except KeyError:
        supported = ", ".join(sorted(CONTRACTS))
        raise RuntimeError(
            f"ferrostator.install(): pystator {version} is installed, but this ferrostator "
            f"supports pystator {supported} only"
        ) from None
