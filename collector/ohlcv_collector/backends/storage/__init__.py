"""Built-in backends of the `Storage` port: PostgreSQL (TimescaleDB when present) and SQLite.

The backend follows the storage URL that `settings.DatabaseSettings.storage_url()`
builds: `postgresql://user:password@host:port/database` or `sqlite:///absolute/path`.
The caller runs `migrate()` before the first write; it is cheap when nothing is pending.
"""

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ohlcv_collector.backends.storage.postgres import PostgresStorage
from ohlcv_collector.backends.storage.sqlite import SqliteStorage
from ohlcv_collector.ports import Storage

__all__ = ["PostgresStorage", "SqliteStorage", "open_sql_storage"]

_POSTGRES_SCHEMES = ("postgresql", "postgres")


async def open_sql_storage(url: str) -> Storage:
    """Connect to the built-in storage that `url` names; the schema is not touched.

    Entry points open storage through `runtime.assembly.open_storage`, which puts the
    fullon_ohlcv backend in front of this one where it is installed.
    """
    parts = urlsplit(url)
    if parts.scheme in _POSTGRES_SCHEMES:
        return await PostgresStorage.connect(dsn=url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/"):
            raise ValueError(f"a SQLite storage URL is sqlite:///absolute/path, not {url!r}")
        return await SqliteStorage.connect(path=Path(path))
    raise ValueError(
        f"unknown storage URL scheme {parts.scheme!r} in {url.split('@')[-1]!r}:"
        " expected postgresql://... or sqlite:///absolute/path"
    )
