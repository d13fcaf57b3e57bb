"""Market data of BitMEX: REST history and /realtime streams behind the `Market` port.

Thin on purpose, as the ccxt backend: what a page or a stream update means is decided in
the core; this module makes the calls and converts what comes back. Symbols are ccxt's
unified ones, learnt from /instrument/active (never a table of names), so targets written
for ccxt's bitmex keep working.
"""

from collections.abc import AsyncIterator, Mapping
from typing import Any

from ohlcv_collector.backends.bitmex.rest import BitmexRest
from ohlcv_collector.backends.bitmex.stream import subscribe
from ohlcv_collector.backends.bitmex.wire import (
    candle_of,
    iso_of,
    newest_time,
    trade_of,
    unified_symbol,
)
from ohlcv_collector.backends.budget import RequestBudget
from ohlcv_collector.models import MINUTE_MS, TIMEFRAME_1M, Candle, Trade, now_ms
from ohlcv_collector.ports import (
    ExchangeCapabilities,
    ExchangeUnavailableError,
    MarketInfo,
    SymbolUnavailableError,
)

EXCHANGE_ID = "bitmex"
# Where BitMEX is, under the keys ccxt's bitmex class used in urls['api'], so that the same
# OHLCV_CCXT_URLS / OHLCV_CCXT_URLS_BY_EXCHANGE setting points it elsewhere (a replay).
DEFAULT_URLS: dict[str, Any] = {
    "public": "https://www.bitmex.com",
    "ws": {"public": "wss://ws.bitmex.com/realtime"},
}
PAGE_LIMIT = 1000  # BitMEX's largest `count`
CAPABILITIES = ExchangeCapabilities(
    candle_page_limit=PAGE_LIMIT,
    trade_page_limit=PAGE_LIMIT,
    rest_trades=True,
    stream_trades=True,
    stream_candles=True,
)


class BitmexMarket:
    """The `MarketData` and `MarketStream` ports for BitMEX."""

    def __init__(
        self, *, urls: Mapping[str, Any], pace: bool = True, budget: RequestBudget | None = None
    ) -> None:
        self.exchange_id = EXCHANGE_ID
        self.capabilities = CAPABILITIES
        ws = urls.get("ws")
        self._ws_url = str((ws if isinstance(ws, Mapping) else DEFAULT_URLS["ws"])["public"])
        self._rest = BitmexRest(
            base_url=str(urls.get("public", DEFAULT_URLS["public"])), pace=pace, budget=budget
        )
        self._ids: dict[str, str] = {}  # unified symbol -> BitMEX's id (XBTUSD)

    async def _instruments(self) -> list[Any]:
        """/instrument/active, remembering each market's BitMEX id."""
        entries = await self._rest.get("/instrument/active", params={})
        ids: dict[str, str] = {}
        for entry in entries:
            symbol = unified_symbol(entry) if isinstance(entry, Mapping) else None
            if symbol is not None and "symbol" in entry:
                ids.setdefault(symbol, str(entry["symbol"]))
        if not ids and self._ids:
            raise ExchangeUnavailableError("the exchange listed no markets (a damaged answer)")
        self._ids = ids
        return entries

    async def markets(self) -> dict[str, MarketInfo]:
        """Listed markets, reloaded each time (delistings show up)."""
        entries = await self._instruments()
        states = {str(e.get("symbol")): e.get("state") for e in entries if isinstance(e, Mapping)}
        return {
            symbol: MarketInfo(symbol=symbol, active=states.get(bitmex_id) != "Unlisted")
            for symbol, bitmex_id in self._ids.items()
        }

    async def exchange_time(self) -> int:
        """The newest instrument stamp (BitMEX has no time endpoint), else the local clock."""
        now = newest_time(await self._instruments())
        return now_ms() if now is None else now

    async def _id(self, symbol: str) -> str:
        if symbol not in self._ids:
            await self._instruments()
        bitmex_id = self._ids.get(symbol)
        if bitmex_id is None:
            raise SymbolUnavailableError(f"BitMEX lists no market {symbol!r}")
        return bitmex_id

    async def fetch_candles(self, *, symbol: str, since: int, limit: int) -> list[Candle]:
        """1m bins opening at or after `since`, oldest first, the one in progress last.

        BitMEX filters bins on their end label, so the first wanted label is a minute after
        `since`; `partial` adds the bin in progress, which the core keeps until it closes.
        """
        params = {
            "symbol": await self._id(symbol),
            "binSize": TIMEFRAME_1M,
            "partial": "true",
            "startTime": iso_of(since + MINUTE_MS),
            "count": str(min(limit, PAGE_LIMIT)),
        }
        rows = await self._rest.get("/trade/bucketed", params=params)
        return [candle_of(row, exchange=self.exchange_id, symbol=symbol) for row in rows]

    async def fetch_trades(self, *, symbol: str, since: int, limit: int) -> list[Trade]:
        """Trades at or after `since`, oldest first."""
        params = {
            "symbol": await self._id(symbol),
            "startTime": iso_of(since),
            "count": str(min(limit, PAGE_LIMIT)),
        }
        rows = await self._rest.get("/trade", params=params)
        return [trade_of(row, exchange=self.exchange_id, symbol=symbol) for row in rows]

    async def trades(self, *, symbol: str) -> AsyncIterator[list[Trade]]:
        """Every trade of `symbol`, a batch per frame."""
        topic = f"trade:{await self._id(symbol)}"
        async for rows in subscribe(self._rest.session(), url=self._ws_url, topic=topic):
            yield [trade_of(row, exchange=self.exchange_id, symbol=symbol) for row in rows]

    async def candles(self, *, symbol: str) -> AsyncIterator[list[Candle]]:
        """Each 1m bin of `symbol` as its minute closes (the newest one at subscription)."""
        topic = f"tradeBin1m:{await self._id(symbol)}"
        async for rows in subscribe(self._rest.session(), url=self._ws_url, topic=topic):
            yield [candle_of(row, exchange=self.exchange_id, symbol=symbol) for row in rows]

    async def close(self) -> None:
        """Close the HTTP session and, with it, the WebSocket connections."""
        await self._rest.close()
