"""Telling fullon_orm's Redis read cache that its tables were edited without the ORM.

fullon_orm caches its reads of symbols and exchanges in Redis (dogpile.cache, 24 h)
and forgets them only on its own writes, so after `SqlTargetEditor` writes, a fullon
process would keep serving the old rows for up to a day. fullon_orm documents its
cache keys as

    symbols:get:{symbol}:{cat_ex_id}, symbols:by_id:{symbol_id}, symbols:by_ex_id:{cat_ex_id}
    exchanges:user_exchanges:{user_id}, exchanges:cat_exchanges:{...}, exchanges:id:{...}

so every key matching `symbols:*` or `exchanges:*` in the cache's database (CACHE_DB)
is deleted: the next fullon_orm read goes to the tables. Nothing else in that Redis
database is touched. (The patterns come from fullon_orm's documentation; its source
is not public.)
"""

import redis.asyncio as redis
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.exceptions import RedisError

INVALIDATED_PATTERNS = ("symbols:*", "exchanges:*")
_BATCH = 500
_TIMEOUT_SECONDS = 5.0


class OrmCacheError(Exception):
    """The cache could not be reached or refused the deletion."""


class OrmCacheSettings(BaseSettings):
    """fullon_orm's cache, configured by the variables fullon_orm reads (CACHE_*)."""

    model_config = SettingsConfigDict(env_prefix="CACHE_", extra="ignore")

    host: str | None = None
    port: int = 6379
    db: int = 0
    user: str | None = None
    password: SecretStr = SecretStr("")

    def url(self) -> str | None:
        """redis://... or None when fullon_orm's cache is not configured."""
        if not self.host:
            return None
        return f"redis://{self.host}:{self.port}/{self.db}"


async def invalidate_orm_cache(settings: OrmCacheSettings) -> int:
    """Delete fullon_orm's cached symbol and exchange reads; returns how many keys went."""
    url = settings.url()
    if url is None:
        return 0
    client = redis.Redis.from_url(
        url,
        username=settings.user,
        password=settings.password.get_secret_value() or None,
        socket_timeout=_TIMEOUT_SECONDS,
        socket_connect_timeout=_TIMEOUT_SECONDS,
    )
    deleted = 0
    try:
        for pattern in INVALIDATED_PATTERNS:
            keys = [key async for key in client.scan_iter(match=pattern, count=_BATCH)]
            for start in range(0, len(keys), _BATCH):
                deleted += await client.delete(*keys[start : start + _BATCH])
    except (RedisError, OSError) as error:
        raise OrmCacheError(f"fullon_orm cache at {url}: {error}") from error
    finally:
        await client.aclose()
    return deleted
