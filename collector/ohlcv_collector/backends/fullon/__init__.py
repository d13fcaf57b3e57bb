"""Backends on the fullon libraries, used instead of the built-in ones where importable.

fullon_orm (targets), fullon_exchange (market data), fullon_ohlcv (storage), fullon_cache
(health) and fullon_log (logs) come from private git and need Python >= 3.13, so they are
an optional extra (`pip install .[fullon]`) and each backend is chosen on its own: a
library that imports is used, a missing one leaves its built-in backend in place. The
libraries are imported by name at run time, never at module import, so this package
loads (and type-checks) without them. Their API is documented in fullon-contract.md.
"""

import importlib
import importlib.util
from types import ModuleType

LIBRARIES = ("fullon_orm", "fullon_exchange", "fullon_ohlcv", "fullon_cache", "fullon_log")


def available(library: str) -> bool:
    """Whether `library` (one of LIBRARIES) can be imported."""
    if library not in LIBRARIES:
        raise ValueError(f"{library!r} is not one of the fullon libraries {LIBRARIES}")
    return importlib.util.find_spec(library) is not None


def load(module: str) -> ModuleType:
    """Import a module of a fullon library, e.g. "fullon_orm" or "fullon_exchange.queue"."""
    return importlib.import_module(module)
