"""Ground truth: exactly what the exchange made available, for row-by-row comparison.

For every market: every final (closed) candle and every trade whose time has come by the replay
clock (or by the market's delisting), in served (shifted) time. Binance markets also list their
aggregate trades, since Binance's REST default (aggTrades) and WS default (@trade) use different
id spaces. Decimals are canonical text (no exponent, no trailing zeros): compare them as decimals.

Schema (CSV with a header row, or JSON lines with the same keys):
  candles:    exchange, symbol, timeframe, open_time_ms, open, high, low, close, volume,
              trade_count (empty when the recording does not say), empty ("true" for a minute
              without trades: Binance serves it with volume 0, Kraken's files omit it)
  trades:     exchange, symbol, trade_id (the id the exchange publishes: BitMEX's trdMatchID,
              Hyperliquid's tid), time_ms, price, amount, side (taker side, buy/sell)
  aggtrades:  exchange, symbol, agg_id, first_trade_id, last_trade_id, time_ms, price, amount, side
Files: <exchange>_<BASE>-<QUOTE>[-<SETTLE>]_<kind>.csv, e.g. binance_BTC-USDT_candles_1m.csv,
bitmex_BTC-USD-BTC_trades.csv.
Candles are keyed by the minute they open, whatever the exchange labels them by (BitMEX labels a
bin by its end), with the exchange's own values (BitMEX's open is the previous bin's close).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from tests.replay_exchange.markets import Market, Moment
from tests.replay_exchange.models import NS_PER_MS, Trade, canonical_text, recorded_trade_id

Row = Mapping[str, str]

COLUMNS = {
    "candles_1m": (
        "exchange",
        "symbol",
        "timeframe",
        "open_time_ms",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "trade_count",
        "empty",
    ),
    "trades": ("exchange", "symbol", "trade_id", "time_ms", "price", "amount", "side"),
    "aggtrades": (
        "exchange",
        "symbol",
        "agg_id",
        "first_trade_id",
        "last_trade_id",
        "time_ms",
        "price",
        "amount",
        "side",
    ),
}


def rows(
    *,
    exchange: str,
    kind: str,
    market: Market,
    horizon_ns: int,
    trade_id: Callable[[Trade], str] = recorded_trade_id,
) -> list[Row]:
    """Ground-truth rows of one `kind` (a COLUMNS key) for one market, up to `horizon_ns`;
    `trade_id` gives the id the exchange publishes for a trade."""
    common = {"exchange": exchange, "symbol": market.symbol}
    if kind == "candles_1m":
        final = market.candles[: market.final_candles(now_ms=horizon_ns // NS_PER_MS)]
        return [
            {
                **common,
                "timeframe": "1m",
                "open_time_ms": str(c.open_ms),
                "open": canonical_text(c.open),
                "high": canonical_text(c.high),
                "low": canonical_text(c.low),
                "close": canonical_text(c.close),
                "volume": canonical_text(c.volume),
                "trade_count": "" if c.trade_count is None else str(c.trade_count),
                "empty": "true" if c.is_empty else "false",
            }
            for c in final
        ]
    if kind == "trades":
        trades = market.trades[: market.visible_trades(now_ns=horizon_ns)]
        return [
            {
                **common,
                "trade_id": trade_id(t),
                "time_ms": str(t.time_ms),
                "price": canonical_text(t.price),
                "amount": canonical_text(t.amount),
                "side": t.side,
            }
            for t in trades
        ]
    aggs = market.agg_trades[: market.visible_agg_trades(now_ns=horizon_ns)]
    return [
        {
            **common,
            "agg_id": str(a.agg_id),
            "first_trade_id": str(a.first_trade_id),
            "last_trade_id": str(a.last_trade_id),
            "time_ms": str(a.time_ms),
            "price": canonical_text(a.price),
            "amount": canonical_text(a.amount),
            "side": a.side,
        }
        for a in aggs
    ]


def file_symbol(symbol: str) -> str:
    """A unified symbol as it appears in file names: BTC/USDT -> BTC-USDT, BTC/USD:BTC ->
    BTC-USD-BTC."""
    return symbol.replace("/", "-").replace(":", "-")


def render(*, table: Iterable[Row], kind: str, fmt: str) -> str:
    """CSV (with header) or JSON lines."""
    if fmt == "jsonl":
        return "".join(json.dumps(dict(row)) + "\n" for row in table)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS[kind], lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue()


def write_files(
    *,
    directory: Path,
    exchange: str,
    kinds: tuple[str, ...],
    moment: Moment,
    trade_id: Callable[[Trade], str] = recorded_trade_id,
) -> list[Path]:
    """Write every market's ground truth as CSV files; each file is replaced atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for symbol, market in sorted(moment.markets.items()):
        for kind in kinds:
            horizon_ns = moment.horizon_ns(symbol)
            table = rows(
                exchange=exchange,
                kind=kind,
                market=market,
                horizon_ns=horizon_ns,
                trade_id=trade_id,
            )
            path = directory / f"{exchange}_{file_symbol(symbol)}_{kind}.csv"
            partial = path.with_suffix(".csv.partial")
            partial.write_text(render(table=table, kind=kind, fmt="csv"), encoding="utf-8")
            partial.replace(path)
            written.append(path)
    return written
