"""Which ferrostator module serves which pystator release: the one place that maps a
pystator version to the contract ``ferrostator.install()`` puts in its place.

Each value names a module that mirrors ``pystator.actions`` of that release name for
name. ``install()`` replaces every class and function that the installed
``pystator.actions`` defines itself and the contract module also provides.
"""

from __future__ import annotations

#: pystator version -> the ferrostator module mirroring its ``pystator.actions``.
CONTRACTS: dict[str, str] = {
    "0.0.25": "ferrostator.actions",
}


def contract_for(version: str) -> str:
    """The contract module for pystator ``version``; RuntimeError naming the
    supported versions when there is none."""
    try:
        return CONTRACTS[version]
    except KeyError:
        supported = ", ".join(sorted(CONTRACTS))
        raise RuntimeError(
            f"ferrostator.install(): pystator {version} is installed, but this ferrostator "
            f"supports pystator {supported} only"
        ) from None
