"""The test PostgreSQL and Redis are real servers that keep what they are given."""

import datetime

import asyncpg
import pytest
import redis.asyncio as redis

from tests.harness.services import PostgresServer


@pytest.mark.postgres
async def test_postgres_round_trip(postgres_server: PostgresServer, postgres_dsn: str) -> None:
    connection = await asyncpg.connect(postgres_dsn)
    try:
        version = await connection.fetchval("SHOW server_version_num")
        assert int(version) // 10000 == 15
        await connection.execute(
            "CREATE TABLE candles (symbol text, ts timestamptz, close numeric,"
            " PRIMARY KEY (symbol, ts))"
        )
        bar = datetime.datetime(2023, 3, 1, tzinfo=datetime.UTC)
        insert = "INSERT INTO candles VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
        await connection.execute(insert, "BTC/USDT", bar, 23150.5)
        await connection.execute(insert, "BTC/USDT", bar, 99999.0)  # duplicate key: kept once
        rows = await connection.fetch("SELECT symbol, ts, close FROM candles")
        assert [tuple(row) for row in rows] == [("BTC/USDT", bar, 23150.5)]
        installed = await connection.fetchval(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        )
        assert installed == (1 if postgres_server.timescaledb else 0)
    finally:
        await connection.close()


@pytest.mark.redis
async def test_redis_round_trip(redis_url: str) -> None:
    async with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        info = await client.info("server")
        assert int(str(info["redis_version"]).split(".")[0]) >= 7
        await client.hset("process:active:ohlcv", "collector-1", "2026-11-21T00:00:00+00:00")
        await client.set("process:data:collector-1", '{"status": "running"}', ex=86400)
        assert await client.hgetall("process:active:ohlcv") == {
            "collector-1": "2026-11-21T00:00:00+00:00"
        }
        assert await client.get("process:data:collector-1") == '{"status": "running"}'
        assert 0 < await client.ttl("process:data:collector-1") <= 86400
