"""The reference's (pystator 0.0.25's) own deprecation warnings, left out of comparisons."""

from __future__ import annotations

import os
import warnings

try:
    import pystator

    _PYSTATOR_DIR: str | None = os.path.dirname(pystator.__file__) + os.sep
except ImportError:  # pragma: no cover - depends on the environment
    _PYSTATOR_DIR = None


def is_reference_deprecation(w: warnings.WarningMessage) -> bool:
    """A DeprecationWarning attributed to pystator's own code (pystator 0.0.25 calls
    ``asyncio.iscoroutinefunction``, deprecated in CPython 3.14). pyproject's
    filterwarnings ignores these for pystator's modules; this is the same rule for the code
    that records every warning itself (``warnings.simplefilter("always")``)."""
    return (
        _PYSTATOR_DIR is not None
        and issubclass(w.category, DeprecationWarning)
        and w.filename.startswith(_PYSTATOR_DIR)
    )
