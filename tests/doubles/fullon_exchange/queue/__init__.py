"""Stands in for fullon_exchange.queue (not installable here): ExchangeQueue, contract 2.1-2.3.

Every method is a classmethod; handlers come back connected; using the factory before
`initialize_factory()` raises RuntimeError, as older builds did, and so does initialising
it twice. Handlers accept only a real fullon_orm `Exchange` (duck types are forbidden by
the docs) and call the credential provider, which must answer (api_key, secret).
"""

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import ccxt.pro
from fullon_orm.models import Exchange, Trade  # type: ignore[import-not-found]  # double

Callback = Callable[[Any], Awaitable[None]]
CredentialProvider = Callable[[Any], tuple[str, str]]
# fullon_exchange's capability table (contract 2.4): Kraken builds candles from trades.
_NEEDS_TRADES = {"kraken"}
Handler = TypeVar("Handler", bound="_Handler")


class _Handler:
    def __init__(self, exchange_obj: Exchange, credential_provider: CredentialProvider | None):
        if not isinstance(exchange_obj, Exchange):
            raise TypeError("pass a fullon_orm.models.Exchange, not a duck-typed object")
        if credential_provider is not None:
            key, secret = credential_provider(exchange_obj)
            if not (isinstance(key, str) and isinstance(secret, str)):
                raise TypeError("the credential provider answers (api_key, secret) strings")
        name = exchange_obj.cat_exchange.name
        self._name = name
        self._ccxt = getattr(ccxt.pro, name)({"enableRateLimit": False})
        urls = json.loads(os.environ["FULLON_EXCHANGE_DOUBLE_URLS"])
        for key_, value in urls.items():
            api = self._ccxt.urls["api"]
            api[key_] = {**api.get(key_, {}), **value} if isinstance(value, dict) else value
        self.has = dict(self._ccxt.has)

    def needs_trades_for_ohlcv(self) -> bool:
        return self._name in _NEEDS_TRADES

    def supports_ohlcv(self) -> bool:
        return True

    def supports_1m_ohlcv(self) -> bool:
        return True

    def get_supported_timeframes(self) -> list[str]:
        return list(self._ccxt.timeframes)

    def is_connected(self) -> bool:
        return True

    async def _close(self) -> None:
        await self._ccxt.close()


class RestHandler(_Handler):
    async def get_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[list[Any]]:
        return list(await self._ccxt.fetch_ohlcv(symbol, timeframe, since, limit))

    async def get_public_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        return list(await self._ccxt.fetch_trades(symbol, since, limit))


class WebSocketHandler(_Handler):
    def __init__(self, exchange_obj: Exchange, credential_provider: CredentialProvider | None):
        super().__init__(exchange_obj, credential_provider)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def subscribe_ohlcv(self, symbol: str, timeframe: str, callback: Callback) -> bool:
        async def pump() -> None:
            while True:
                await callback(await self._ccxt.watch_ohlcv(symbol, timeframe))

        return self._start(f"ohlcv:{symbol}:{timeframe}", pump)

    async def subscribe_trades(self, symbol: str, callback: Callback) -> bool:
        async def pump() -> None:
            while True:
                for row in await self._ccxt.watch_trades(symbol):
                    time = datetime.fromtimestamp(row["timestamp"] / 1000, UTC)
                    await callback(
                        Trade(symbol=symbol, side=row["side"], volume=row["amount"],
                              price=row["price"], time=time)
                    )  # fmt: skip

        return self._start(f"trades:{symbol}", pump)

    async def unsubscribe(self, sub_id: str) -> bool:
        task = self._tasks.pop(sub_id, None)
        if task is not None:
            task.cancel()
        return task is not None

    def _start(self, key: str, pump: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        self._tasks[key] = asyncio.create_task(pump())
        return True

    async def _close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await super()._close()


class ExchangeQueue:
    _handlers: list[_Handler] | None = None

    @classmethod
    async def initialize_factory(cls) -> None:
        if cls._handlers is not None:
            raise RuntimeError("ExchangeQueue factory already initialised")
        cls._handlers = []

    @classmethod
    async def shutdown_factory(cls) -> None:
        for handler in cls._handlers or []:
            await handler._close()
        cls._handlers = None

    @classmethod
    def _register(cls, handler: Handler) -> Handler:
        if cls._handlers is None:
            raise RuntimeError("Must call ExchangeQueue.initialize_factory() first")
        cls._handlers.append(handler)
        return handler

    @classmethod
    async def get_rest_handler(
        cls, exchange_obj: Exchange, credential_provider: CredentialProvider | None = None
    ) -> RestHandler:
        return cls._register(RestHandler(exchange_obj, credential_provider))

    @classmethod
    async def get_websocket_handler(
        cls, exchange_obj: Exchange, credential_provider: CredentialProvider | None = None
    ) -> WebSocketHandler:
        return cls._register(WebSocketHandler(exchange_obj, credential_provider))
