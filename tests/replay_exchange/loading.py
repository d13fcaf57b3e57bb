"""Reading recorded files into typed series, whatever documented format they are in.

The format is detected from the file's first bytes, not its name, so that any file in one of the
formats of ../shared/data/README.md sections 1 and 2 can be replayed, not only the shipped ones.
Formats of one exchange only (BitMEX bodies, Hyperliquid captures) are read by that exchange's
package: `load_file` tries the readers it is given first, on the file's first decompressed text.
The market comes from the file's content where it says (a `symbol` column, the Kraken result key,
Binance's `s` field), else from the file name, else from an explicit override.
Numbers are quantized to 8 decimals on the way in: both exchanges serve at most 8, and the
recordings hold float artefacts such as 0.26833389999999996 that the exchange never sent.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.replay_exchange.models import (
    EIGHT_PLACES,
    NS_PER_MS,
    Candle,
    RecordedSeries,
    Side,
    SourceKind,
    Trade,
    minute_floor,
)
from tests.replay_exchange.symbols import parse_market_id, symbol_from_filename
from tests.replay_exchange.venue import Reader

_NS_PER_S = Decimal(1_000_000_000)


def exact(value: object) -> Decimal:
    """A recorded number as the exchange would have sent it: a decimal with 8 places at most."""
    return Decimal(str(value)).quantize(EIGHT_PLACES)


def detect_kind(*, head: bytes, name: str) -> SourceKind:
    """Which documented format a file is in, from its first bytes."""
    if head[:2] == b"\x1f\x8b":
        return SourceKind.BINANCE_WS_CAPTURE
    text = head.decode("utf-8", errors="replace").lstrip()
    if text.startswith("{"):
        return _detect_kraken_json(text)
    first_line = text.splitlines()[0] if text else ""
    fields = first_line.split(",")
    if len(fields) == 7 and fields[0].isdigit():
        return SourceKind.KRAKEN_OHLCVT_CSV
    if "open" in fields and "close" in fields:
        return SourceKind.CANDLE_CSV
    raise ValueError(f"{name}: not a recorded candle or trade file in a documented format")


def _detect_kraken_json(text: str) -> SourceKind:
    # A Trades row carries the time third as a float; an OHLC row starts with an integer time.
    compact = "".join(text.split())
    marker = compact.find("[[")
    if marker < 0:
        raise ValueError("JSON file is neither a Kraken Trades nor a Kraken OHLC body")
    first_value = compact[marker + 2 :].split(",", 1)[0]
    return SourceKind.KRAKEN_OHLC_JSON if first_value.isdigit() else SourceKind.KRAKEN_TRADES_JSON


def head_text(path: Path) -> str:
    """The first few kilobytes of a file as text, decompressed when it is gzip."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as unpacked:
            head = unpacked.read(4096)
    return head.decode("utf-8", errors="replace")


@functools.lru_cache(maxsize=64)
def load_file(
    path: Path, *, symbol: str | None = None, readers: tuple[Reader, ...] = ()
) -> tuple[RecordedSeries, ...]:
    """Every market series held by one file; cached because tests start many servers."""
    text_head = head_text(path)
    for reader in readers:
        if reader.recognises(text_head):
            return reader.read(path, symbol)
    with path.open("rb") as handle:
        head = handle.read(4096)
    kind = detect_kind(head=head, name=path.name)
    if kind is SourceKind.BINANCE_WS_CAPTURE:
        return _binance_capture(path, symbol=symbol)
    text = path.read_text(encoding="utf-8")
    fallback = symbol or symbol_from_filename(path.name)
    if kind is SourceKind.CANDLE_CSV:
        return (_candle_csv(text, path=path, symbol=symbol, fallback=fallback),)
    if kind is SourceKind.KRAKEN_OHLCVT_CSV:
        candles = tuple(_ohlcvt_row(row) for row in csv.reader(io.StringIO(text)) if row)
        return (_series(fallback, kind, path, candles=candles),)
    return _kraken_json(json.loads(text, parse_float=Decimal), kind=kind, path=path, symbol=symbol)


def _series(
    symbol: str | None,
    kind: SourceKind,
    path: Path,
    *,
    trades: tuple[Trade, ...] = (),
    candles: tuple[Candle, ...] = (),
) -> RecordedSeries:
    if symbol is None:
        raise ValueError(f"{path.name}: cannot tell the market; pass it as SYMBOL=PATH")
    ordered_trades = tuple(sorted(trades, key=lambda t: (t.time_ns, t.trade_id)))
    ordered_candles = tuple(sorted(candles, key=lambda c: c.open_ms))
    return RecordedSeries(symbol, kind, str(path), ordered_trades, ordered_candles)


def _candle_csv(
    text: str, *, path: Path, symbol: str | None, fallback: str | None
) -> RecordedSeries:
    rows = list(csv.DictReader(io.StringIO(text)))
    recorded_symbol = rows[0].get("symbol") if rows else None
    market = symbol or (parse_market_id(recorded_symbol) if recorded_symbol else None) or fallback
    candles = tuple(_csv_candle(row) for row in rows)
    return _series(market, SourceKind.CANDLE_CSV, path, candles=candles)


def _csv_candle(row: Mapping[str, str]) -> Candle:
    count = row.get("n_trades") or row.get("trades") or row.get("count")
    return Candle(
        open_ms=_open_ms(row),
        open=exact(row["open"]),
        high=exact(row["high"]),
        low=exact(row["low"]),
        close=exact(row["close"]),
        volume=exact(row["volume"]),
        trade_count=int(count) if count else None,
        quote_volume=_optional(row.get("quote_volume")),
        taker_buy_volume=_optional(row.get("taker_buy_base_volume")),
        taker_buy_quote_volume=_optional(row.get("taker_buy_quote_volume")),
    )


def _open_ms(row: Mapping[str, str]) -> int:
    if row.get("open_time_ms"):
        return int(row["open_time_ms"])
    for column in ("start", "open_time", "timestamp"):
        value = row.get(column)
        if value:
            seconds = int(value) if value.isdigit() else datetime.fromisoformat(value).timestamp()
            return minute_floor(int(seconds * 1000))
    raise ValueError(f"candle row without an open time: {dict(row)}")


def _optional(value: str | None) -> Decimal | None:
    return exact(value) if value else None


def _ohlcvt_row(row: Sequence[str]) -> Candle:
    time_s, open_, high, low, close, volume, count = row
    return Candle(
        open_ms=int(time_s) * 1000,
        open=exact(open_),
        high=exact(high),
        low=exact(low),
        close=exact(close),
        volume=exact(volume),
        trade_count=int(count),
    )


def _kraken_json(
    body: Mapping[str, Any], *, kind: SourceKind, path: Path, symbol: str | None
) -> tuple[RecordedSeries, ...]:
    result = body["result"]
    last = int(result.get("last", 0))
    series = []
    for pair, rows in result.items():
        if pair == "last":
            continue
        market = symbol or parse_market_id(pair) or symbol_from_filename(path.name)
        if kind is SourceKind.KRAKEN_TRADES_JSON:
            series.append(_series(market, kind, path, trades=tuple(map(_kraken_trade, rows))))
        else:
            # Rows after `last` were still open when the body was recorded: not final candles.
            candles = tuple(_kraken_ohlc_row(row) for row in rows if int(row[0]) <= last)
            series.append(_series(market, kind, path, candles=candles))
    return tuple(series)


def _kraken_trade(row: Sequence[Any]) -> Trade:
    if len(row) < 7:
        raise ValueError("Kraken trades without trade ids (pre-2023 bodies) cannot be replayed")
    price, volume, time_s, side, order_type, _misc, trade_id = row[:7]
    return Trade(
        trade_id=int(trade_id),
        time_ns=int(Decimal(str(time_s)) * _NS_PER_S),
        price=exact(price),
        amount=exact(volume),
        side="sell" if side == "s" else "buy",
        order_type="market" if order_type == "m" else "limit",
    )


def _kraken_ohlc_row(row: Sequence[Any]) -> Candle:
    time_s, open_, high, low, close, vwap, volume, count = row
    return Candle(
        open_ms=int(time_s) * 1000,
        open=exact(open_),
        high=exact(high),
        low=exact(low),
        close=exact(close),
        volume=exact(volume),
        trade_count=int(count),
        vwap=exact(vwap),
    )


def _binance_capture(path: Path, *, symbol: str | None) -> tuple[RecordedSeries, ...]:
    by_market: dict[str, list[Trade]] = {}
    for frame in _capture_trade_frames(path):
        market = symbol or parse_market_id(frame["s"])
        if market is None:
            raise ValueError(f"{path.name}: unknown Binance market {frame['s']!r}")
        by_market.setdefault(market, []).append(_binance_trade(frame))
    kind = SourceKind.BINANCE_WS_CAPTURE
    return tuple(_series(m, kind, path, trades=tuple(t)) for m, t in by_market.items())


def _capture_trade_frames(path: Path) -> Iterator[Mapping[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if '"e":"trade"' not in line:
                continue
            message = json.loads(line.split(" ", 1)[1])
            yield message.get("data", message)


def _binance_trade(frame: Mapping[str, Any]) -> Trade:
    # `m` says the buyer was the maker, so the taker sold.
    side: Side = "sell" if frame["m"] else "buy"
    return Trade(
        trade_id=int(frame["t"]),
        time_ns=int(frame["T"]) * NS_PER_MS,
        price=exact(frame["p"]),
        amount=exact(frame["q"]),
        side=side,
    )
