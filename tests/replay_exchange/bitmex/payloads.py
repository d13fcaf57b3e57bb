"""BitMEX's JSON, as the exchange writes it, and its recorded file formats.

BitMEX names XBTUSD what ccxt calls BTC/USD:BTC (an inverse perpetual: quoted in USD, settled in
XBT); linear contracts such as XBTUSDT settle in their quote. Times are ISO 8601 with
milliseconds and a Z. Numbers are JSON numbers (a whole price is written without a fraction).
A bin is labelled by its END: the 1m bin stamped 12:01:00.000Z holds 12:00:00.000-12:00:59.999.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.replay_exchange.clock import iso_utc
from tests.replay_exchange.loading import exact
from tests.replay_exchange.models import (
    MINUTE_MS,
    NS_PER_MS,
    Candle,
    RecordedSeries,
    SourceKind,
    Trade,
    recorded_trade_id,
)
from tests.replay_exchange.shared import shared_data_dir
from tests.replay_exchange.symbols import base_quote, parse_market_id, unified_code

INSTRUMENT_SAMPLE = "ws_frames/cryptofeed/BITMEX.0"
TRADE_FIELDS = ("tickDirection", "grossValue", "homeNotional", "foreignNotional")
BIN_FIELDS = ("vwap", "lastSize", "turnover", "homeNotional", "foreignNotional")
SATOSHI = Decimal(100_000_000)


def market_id(symbol: str) -> str:
    """BTC/USD:BTC -> XBTUSD, BTC/USDT:USDT -> XBTUSDT."""
    base, quote = base_quote(symbol.split(":")[0])
    return ("XBT" if base == "BTC" else base) + quote


def unified_symbol(bitmex_id: str) -> str:
    """XBTUSD -> BTC/USD:BTC (USD contracts are inverse, settled in the base); XBTUSDT ->
    BTC/USDT:USDT."""
    spot = parse_market_id(bitmex_id)
    if spot is None:
        raise ValueError(f"not a BitMEX contract id: {bitmex_id!r}")
    base, quote = base_quote(spot)
    return f"{spot}:{base if quote == 'USD' else unified_code(quote)}"


def number(value: Decimal) -> int | float:
    """A JSON number as BitMEX writes it: 7173, 6828.5."""
    return int(value) if value == value.to_integral_value() else float(value)


def iso(ms: int) -> str:
    return iso_utc(ns=ms * NS_PER_MS, digits=3)


def error(*, message: str, name: str) -> dict[str, Any]:
    return {"error": {"message": message, "name": name}}


def trade_row(*, trade: Trade, symbol: str, previous: Sequence[Trade]) -> dict[str, Any]:
    """A /trade row or `trade` table entry. Fields the recording lacks (a trade recorded on
    another exchange) are computed as BitMEX does; `previous` are the trades before it, newest
    last, for the tick direction."""
    recorded = dict(trade.extra)
    gross, home = notionals(trade)
    return {
        "timestamp": iso(trade.time_ms),
        "symbol": market_id(symbol),
        "side": "Buy" if trade.side == "buy" else "Sell",
        "size": number(trade.amount),
        "price": number(trade.price),
        "tickDirection": recorded.get("tickDirection") or tick_direction(trade, previous),
        "trdMatchID": recorded_trade_id(trade),
        "grossValue": recorded.get("grossValue", gross),
        "homeNotional": recorded.get("homeNotional", float(home)),
        "foreignNotional": recorded.get("foreignNotional", number(trade.amount)),
        "trdType": "Regular",
    }


def notionals(trade: Trade) -> tuple[int, Decimal]:
    """(grossValue in satoshi, homeNotional in XBT) of an inverse contract trade: each USD
    contract is worth round(1e8 / price) satoshi."""
    gross = int(trade.amount * round(SATOSHI / trade.price))
    return gross, Decimal(gross) / SATOSHI


def tick_direction(trade: Trade, previous: Sequence[Trade]) -> str:
    """PlusTick/MinusTick on a price move; ZeroPlusTick/ZeroMinusTick repeat the last move."""
    price = trade.price
    for earlier in reversed(previous):
        if earlier.price != price:
            return "PlusTick" if price > earlier.price else "MinusTick"
    return "ZeroPlusTick"


def bin_row(*, candle: Candle, symbol: str, trades: Sequence[Trade]) -> dict[str, Any]:
    """A /trade/bucketed row (and `tradeBin1m` entry), stamped with the END of its minute.

    Recorded bins carry their own vwap, lastSize, turnover and notionals; a bin built from
    `trades` (the minute's trades) computes them; an empty minute has vwap and lastSize null.
    """
    figures = dict(candle.extra) or _bin_figures(trades)
    return {
        "timestamp": iso(candle.open_ms + MINUTE_MS),
        "symbol": market_id(symbol),
        "open": number(candle.open),
        "high": number(candle.high),
        "low": number(candle.low),
        "close": number(candle.close),
        "trades": candle.trade_count or 0,
        "volume": number(candle.volume),
        **{name: figures.get(name) for name in BIN_FIELDS},
    }


def _bin_figures(trades: Sequence[Trade]) -> dict[str, Any]:
    if not trades:
        return {"turnover": 0, "homeNotional": 0, "foreignNotional": 0}
    figures = [notionals(t) for t in trades]
    turnover = sum(gross for gross, _ in figures)
    volume = sum((t.amount for t in trades), start=Decimal(0))
    home = Decimal(turnover) / SATOSHI
    return {
        "vwap": float(round(volume / home, 4)),
        "lastSize": number(trades[-1].amount),
        "turnover": turnover,
        "homeNotional": float(home),
        "foreignNotional": number(volume),
    }


@functools.lru_cache(maxsize=1)
def instrument_sample() -> Mapping[str, Any]:
    """The recorded XBTUSD entry of GET /instrument/active (2021-07-22)."""
    first_line = (shared_data_dir() / INSTRUMENT_SAMPLE).read_text().splitlines()[0]
    entries = json.loads(first_line.split(": ", 1)[1])
    return next(e for e in entries if e["symbol"] == "XBTUSD")


def instrument(*, symbol: str, now_ms: int, last_price: Decimal | None) -> dict[str, Any]:
    """One /instrument/active entry: the recorded one, renamed, at the served moment."""
    base, quote = base_quote(symbol.split(":")[0])
    bitmex_base = "XBT" if base == "BTC" else base
    entry = dict(instrument_sample())
    entry.update(
        symbol=market_id(symbol),
        rootSymbol=bitmex_base,
        underlying=bitmex_base,
        quoteCurrency=quote,
        positionCurrency=quote,
        timestamp=iso(now_ms),
    )
    if last_price is not None:
        entry.update(lastPrice=number(last_price), markPrice=number(last_price))
    return entry


# Recorded file formats --------------------------------------------------------------------


def recognises_trades(head: str) -> bool:
    return head.lstrip().startswith("[") and '"trdMatchID"' in head


def recognises_bins(head: str) -> bool:
    return head.lstrip().startswith("[") and '"foreignNotional"' in head and '"open"' in head


def read_trades(path: Path, symbol: str | None) -> tuple[RecordedSeries, ...]:
    """A /trade body (ascending pages, or newest first with reverse=true), trades oldest first."""
    rows = sorted(_rows(path), key=lambda r: r["timestamp"])  # stable: same-ms order kept
    by_market: dict[str, list[Trade]] = {}
    for position, row in enumerate(rows, start=1):
        market = symbol or unified_symbol(row["symbol"])
        by_market.setdefault(market, []).append(_trade(row, position))
    kind = SourceKind.BITMEX_TRADES_JSON
    return tuple(
        RecordedSeries(m, kind, str(path), trades=tuple(ts)) for m, ts in by_market.items()
    )


def read_bins(path: Path, symbol: str | None) -> tuple[RecordedSeries, ...]:
    """A 1m /trade/bucketed body, either order; each bin keyed by the minute it opens."""
    by_market: dict[str, list[Candle]] = {}
    for row in _rows(path):
        market = symbol or unified_symbol(row["symbol"])
        by_market.setdefault(market, []).append(_candle(row))
    kind = SourceKind.BITMEX_BUCKETED_JSON
    return tuple(
        RecordedSeries(m, kind, str(path), candles=tuple(sorted(cs, key=lambda c: c.open_ms)))
        for m, cs in by_market.items()
    )


def _rows(path: Path) -> Iterable[Mapping[str, Any]]:
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        rows: list[Mapping[str, Any]] = json.load(handle)
    return rows


def _ms(text: str) -> int:
    return int(
        datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp() * 1000
    )


def _trade(row: Mapping[str, Any], position: int) -> Trade:
    return Trade(
        trade_id=position,
        time_ns=_ms(row["timestamp"]) * NS_PER_MS,
        price=exact(row["price"]),
        amount=exact(row["size"]),
        side="buy" if row["side"] == "Buy" else "sell",
        exchange_id=row["trdMatchID"],
        extra=tuple((name, row[name]) for name in TRADE_FIELDS if name in row),
    )


def _candle(row: Mapping[str, Any]) -> Candle:
    vwap = row.get("vwap")
    return Candle(
        open_ms=_ms(row["timestamp"]) - MINUTE_MS,
        open=exact(row["open"]),
        high=exact(row["high"]),
        low=exact(row["low"]),
        close=exact(row["close"]),
        volume=exact(row["volume"]),
        trade_count=int(row["trades"]),
        vwap=None if vwap is None else exact(vwap),
        extra=tuple((name, row.get(name)) for name in BIN_FIELDS),
    )
