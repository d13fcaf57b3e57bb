"""Market data through fullon_exchange's ExchangeQueue handlers (fullon-contract.md section 2).

The handlers need the user's fullon_orm `Exchange` row (its `ex_id` keys the
credentials); public data needs none, so the credential provider answers ("", "") unless
fullon_credentials has a pair, which it returns as (secret, key): swapped here into the
(key, secret) order the handlers expect. The library paces and retries requests itself
and reconnects WebSockets without telling, so a stream here counts as interrupted when
the handler reports itself disconnected, and the repair loop fills what went missing.

fullon_exchange publishes no market list, so every target symbol counts as listed; a
symbol the exchange does not know fails its requests instead. `since` is sent in
milliseconds to both REST calls, ccxt's unit, which the library passes through.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from ohlcv_collector.backends.ccxt.convert import candles_of, trade_of
from ohlcv_collector.backends.fullon import load
from ohlcv_collector.backends.fullon.targets import user_accounts
from ohlcv_collector.models import TIMEFRAME_1M, Candle, Trade
from ohlcv_collector.ports import (
    ExchangeCapabilities,
    ExchangeUnavailableError,
    MarketDataError,
    MarketInfo,
    StreamInterruptedError,
    TargetSource,
)

# Candles and trades per REST request: fullon_exchange publishes no page size; 1000 is
# what fullon's own collectors ask for (fullon-contract.md, the reference service).
PAGE_LIMIT = 1000
CONNECTED_CHECK_SECONDS = 1.0


def credentials(exchange: Any) -> tuple[str, str]:
    """(api key, secret) for a fullon_orm Exchange; ("", "") for public data only."""
    try:
        secret, key = load("fullon_credentials").fullon_credentials(ex_id=exchange.ex_id)
    except (ImportError, ValueError):
        return "", ""
    return key, secret


def epoch_ms(value: Any) -> int:
    """A time as epoch ms, from a datetime, seconds or milliseconds (libraries differ)."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1000) if value < 100_000_000_000 else int(value)
    return 0


def _field(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)


class FullonMarket:
    """The `MarketData` and `MarketStream` ports on fullon_exchange."""

    def __init__(self, *, exchange_id: str, user_mail: str, targets: TargetSource) -> None:
        self.exchange_id = exchange_id
        self.capabilities = ExchangeCapabilities(
            candle_page_limit=PAGE_LIMIT,
            trade_page_limit=PAGE_LIMIT,
            rest_trades=True,
            stream_trades=True,
            stream_candles=True,
        )
        self._user_mail = user_mail
        self._targets = targets
        self._queue: Any = None
        self._rest: Any = None
        self._ws: Any = None
        self._streams: dict[tuple[str, str], asyncio.Queue[list[Any]]] = {}

    async def _connect(self) -> None:
        if self._rest is not None:
            return
        queue = load("fullon_exchange.queue").ExchangeQueue
        with contextlib.suppress(RuntimeError):  # already initialised by someone else
            await queue.initialize_factory()
        self._queue = queue
        async with load("fullon_orm").DatabaseContext() as db:
            accounts = await user_accounts(db, user_mail=self._user_mail)
        account = next(
            (a for a in accounts if a.cat_exchange.name == self.exchange_id and a.active), None
        )
        if account is None:
            raise MarketDataError(f"{self._user_mail} has no active {self.exchange_id} account")
        self._rest = await queue.get_rest_handler(account, credentials)
        self._ws = await queue.get_websocket_handler(account, credentials)
        needs_trades = bool(self._rest.needs_trades_for_ohlcv())
        self.capabilities = ExchangeCapabilities(
            candle_page_limit=PAGE_LIMIT,
            trade_page_limit=PAGE_LIMIT,
            rest_trades=True,
            stream_trades=True,
            stream_candles=bool(self._ws.has.get("watchOHLCV")) and not needs_trades,
        )

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        await self._connect()
        try:
            return await getattr(self._rest, name)(*args, **kwargs)
        except MarketDataError:
            raise
        except Exception as error:  # the library's errors are all worth a retry
            raise ExchangeUnavailableError(f"{type(error).__name__}: {error}") from error

    async def markets(self) -> dict[str, MarketInfo]:
        """The exchange's target symbols, all counted as listed (see the module docstring)."""
        await self._connect()
        targets = await self._targets.targets(exchange=self.exchange_id)
        return {t.symbol: MarketInfo(symbol=t.symbol, active=True) for t in targets}

    async def exchange_time(self) -> int:
        """The local clock: fullon_exchange does not publish the exchange's."""
        return int(datetime.now().timestamp() * 1000)

    async def fetch_candles(self, *, symbol: str, since: int, limit: int) -> list[Candle]:
        """1m candles from `since`, oldest first; empty rows dropped."""
        rows = await self._call(
            "get_ohlcv", symbol, timeframe=TIMEFRAME_1M, since=since, limit=limit
        )
        return candles_of([r for r in rows if r], exchange=self.exchange_id, symbol=symbol)

    async def fetch_trades(self, *, symbol: str, since: int, limit: int) -> list[Trade]:
        """Trades from `since`, oldest first."""
        rows = await self._call("get_public_trades", symbol, since=since, limit=limit)
        return [self._rest_trade(row, symbol=symbol) for row in rows]

    def _rest_trade(self, row: Any, *, symbol: str) -> Trade:
        time = _field(row, "timestamp") or _field(row, "datetime")
        if isinstance(time, str):
            time = datetime.fromisoformat(time.replace("Z", "+00:00"))
        unified = {
            "id": _field(row, "id"),
            "timestamp": epoch_ms(time),
            "price": _field(row, "price"),
            "amount": _field(row, "amount"),
            "side": _field(row, "side"),
        }
        return trade_of(unified, exchange=self.exchange_id, symbol=symbol)

    def _stream_trade(self, trade: Any, *, symbol: str) -> Trade:
        """A fullon_orm Trade from the trade stream (`volume`, never `amount`)."""
        side = str(trade.side or "").lower()
        unified = {
            "id": getattr(trade, "ex_trade_id", None),
            "timestamp": epoch_ms(trade.time),
            "price": trade.price,
            "amount": trade.volume,
            "side": side,
        }
        return trade_of(unified, exchange=self.exchange_id, symbol=symbol)

    async def _stream(self, kind: str, symbol: str) -> AsyncIterator[list[Any]]:
        """Batches from one subscription, made once; raises when the handler disconnects."""
        await self._connect()
        key = (kind, symbol)
        if key not in self._streams:
            queue: asyncio.Queue[list[Any]] = asyncio.Queue()

            async def received(update: Any) -> None:
                many = isinstance(update, list) and update and isinstance(update[0], list)
                queue.put_nowait(list(update) if many else [update])

            subscribe = getattr(self._ws, f"subscribe_{kind}")
            args = (symbol, TIMEFRAME_1M, received) if kind == "ohlcv" else (symbol, received)
            if not await subscribe(*args):
                raise StreamInterruptedError(f"{kind}: subscribing to {symbol} failed")
            self._streams[key] = queue
        queue = self._streams[key]
        while True:
            try:
                async with asyncio.timeout(CONNECTED_CHECK_SECONDS):
                    batch = await queue.get()
            except TimeoutError:
                if not self._ws.is_connected():
                    raise StreamInterruptedError(f"{kind}: handler disconnected") from None
                continue
            while not queue.empty():
                batch += queue.get_nowait()
            yield batch

    async def trades(self, *, symbol: str) -> AsyncIterator[list[Trade]]:
        """Every streamed trade of `symbol`."""
        async for batch in self._stream("trades", symbol):
            yield [self._stream_trade(trade, symbol=symbol) for trade in batch]

    async def candles(self, *, symbol: str) -> AsyncIterator[list[Candle]]:
        """Updates of the current 1m bar of `symbol`."""
        async for batch in self._stream("ohlcv", symbol):
            yield candles_of(batch, exchange=self.exchange_id, symbol=symbol)

    async def close(self) -> None:
        """Shut the ExchangeQueue factory down (it closes every handler)."""
        if self._queue is not None:
            await self._queue.shutdown_factory()
