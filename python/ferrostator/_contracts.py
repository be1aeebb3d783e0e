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


#: pystator version -> its contract.
CONTRACTS: dict[str, Contract] = {
    "0.0.25": Contract("ferrostator.actions", reads_pystator_fields=True),
    # 0.0.47's ActionSpec adds `when` and `custom` (read: `when`, under its contract).
    "0.0.47": Contract("ferrostator.v47.actions", reads_pystator_fields=True),
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
