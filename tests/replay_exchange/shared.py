"""Where the shared, read-only recordings live (kept apart so exchange packages can read their
reference bodies without importing the table of exchanges)."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path:
    """`OHLCV_SHARED_DATA`, else ../shared/data next to the repository root."""
    override = os.environ.get("OHLCV_SHARED_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"
