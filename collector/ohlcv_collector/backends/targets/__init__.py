"""Collection targets from the fullon_orm tables (users, cat_exchanges, exchanges, symbols).

`SqlTargetSource` reads them for the collectors and the operator; `SqlTargetEditor`
creates and edits them where fullon_orm is not installed; `orm_cache` tells fullon_orm's
Redis read cache about such edits.
"""

from ohlcv_collector.backends.targets.connection import TargetsDatabaseError, redact_url
from ohlcv_collector.backends.targets.editing import (
    AddedTarget,
    SqlTargetEditor,
    TargetNotFoundError,
)
from ohlcv_collector.backends.targets.sql import SqlTargetSource

__all__ = [
    "AddedTarget",
    "SqlTargetEditor",
    "SqlTargetSource",
    "TargetNotFoundError",
    "TargetsDatabaseError",
    "redact_url",
]
