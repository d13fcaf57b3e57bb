"""Hyperliquid's JSON, as the exchange writes it, and the recorded WS capture format.

Perpetuals are named by their coin ("BTC"), which ccxt calls BTC/USDC:USDC (USDC-settled linear
swaps). Prices and sizes are strings ("105056.0", "0.00219"), times integer milliseconds, trade
ids (`tid`) large integers that are not a sequence. Side "B" is a taker buy, "A" a taker sell.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from tests.replay_exchange.loading import exact
from tests.replay_exchange.models import (
    MINUTE_MS,
    NS_PER_MS,
    Candle,
    RecordedSeries,
    SourceKind,
    Trade,
)
from tests.replay_exchange.shared import shared_data_dir
from tests.replay_exchange.symbols import base_quote

META_CASSETTE = "hyperliquid/rest_info_2025_go-hyperliquid/MetaAndAssetCtxs.yaml.gz"
_TID_MIX = 0x9E3779B97F4A7  # odd: multiplying by it permutes the integers modulo 2**50
_TID_SPACE = 2**50


def is_spot(symbol: str) -> bool:
    return ":" not in symbol


def coin(symbol: str) -> str:
    """The name Hyperliquid gives the market: BTC/USDC:USDC -> BTC (a perpetual's coin);
    a spot pair is named by its pair, as Hyperliquid names its canonical pairs (PURR/USDC)."""
    return symbol if is_spot(symbol) else base_quote(symbol)[0]


def symbol_of(coin_name: str) -> str:
    return coin_name if "/" in coin_name else f"{coin_name}/USDC:USDC"


def text(value: Decimal) -> str:
    """A number as Hyperliquid writes it: at least one decimal, no trailing zeros beyond it."""
    plain = f"{value.normalize():f}"
    return plain if "." in plain else plain + ".0"


def tid(trade: Trade) -> int:
    """The trade's tid: recorded, or (a trade recorded elsewhere) its position scattered over
    2**50 the way Hyperliquid's tids look: distinct, never consecutive."""
    if trade.exchange_id is not None:
        return int(trade.exchange_id)
    return (trade.trade_id * _TID_MIX) % _TID_SPACE


def published_id(trade: Trade) -> str:
    return str(tid(trade))


def trade_row(*, trade: Trade, symbol: str) -> dict[str, Any]:
    """One trade of a `trades` frame or of recentTrades, keys in Hyperliquid's order."""
    recorded = dict(trade.extra)
    number = tid(trade)
    digest = hashlib.sha256(f"{symbol}:{number}".encode()).hexdigest()
    return {
        "coin": coin(symbol),
        "side": "B" if trade.side == "buy" else "A",
        "px": text(trade.price),
        "sz": text(trade.amount),
        "time": trade.time_ms,
        "hash": recorded.get("hash", "0x" + digest),
        "tid": number,
        "users": list(recorded.get("users", ("0x" + digest[:40], "0x" + digest[24:]))),
    }


def candle_row(*, candle: Candle, symbol: str) -> dict[str, Any]:
    """A candleSnapshot row and the `candle` channel's data: t/T open and close ms, n trades."""
    return {
        "t": candle.open_ms,
        "T": candle.open_ms + MINUTE_MS - 1,
        "s": coin(symbol),
        "i": "1m",
        "o": text(candle.open),
        "c": text(candle.close),
        "h": text(candle.high),
        "l": text(candle.low),
        "v": text(candle.volume),
        "n": candle.trade_count or 0,
    }


@functools.lru_cache(maxsize=1)
def recorded_bodies() -> tuple[Mapping[str, Any], list[Any]]:
    """(spotMeta, metaAndAssetCtxs) as recorded on 2025-08-22."""
    with gzip.open(shared_data_dir() / META_CASSETTE, "rt", encoding="utf-8") as handle:
        cassette = yaml.safe_load(handle)
    bodies = {
        i["request"]["body"]: json.loads(i["response"]["body"]) for i in cassette["interactions"]
    }
    return bodies['{"type":"spotMeta"}'], bodies['{"type":"metaAndAssetCtxs"}']


def meta_and_contexts(*, coins: Mapping[str, Decimal | None]) -> list[Any]:
    """metaAndAssetCtxs for `coins` (coin -> current price): recorded entries, recorded order;
    a coin the recording lacks is BTC's entry renamed."""
    meta, contexts = recorded_bodies()[1]
    universe, recorded_ctx = (
        meta["universe"],
        dict(zip((u["name"] for u in meta["universe"]), contexts, strict=True)),
    )
    known = {u["name"]: u for u in universe}
    ordered = [u["name"] for u in universe if u["name"] in coins]
    ordered += sorted(c for c in coins if c not in known)
    entries, ctxs = [], []
    for name in ordered:
        entries.append({**known.get(name, {**universe[0], "name": name})})
        ctx = dict(recorded_ctx.get(name, contexts[0]))
        price = coins[name]
        if price is not None:
            ctx.update(markPx=text(price), midPx=text(price), oraclePx=text(price))
        ctxs.append(ctx)
    return [{"universe": entries, "marginTables": meta.get("marginTables", [])}, ctxs]


def spot_meta_and_contexts(*, pairs: Mapping[str, Decimal | None]) -> list[Any]:
    """[spotMeta, contexts] for the spot `pairs` (pair -> current price): the recorded USDC
    token, and for each pair a token named by its base (derived: shaped as the recorded
    tokens) and a canonical pair named as Hyperliquid names PURR/USDC."""
    usdc = next(t for t in recorded_bodies()[0]["tokens"] if t["name"] == "USDC")
    tokens, universe, contexts = [usdc], [], []
    for index, (pair, price) in enumerate(sorted(pairs.items())):
        base = base_quote(pair)[0]
        token_id = "0x" + hashlib.sha256(base.encode()).hexdigest()[:32]
        tokens.append(
            {**usdc, "name": base, "index": index + 1, "szDecimals": 5, "tokenId": token_id}
        )
        universe.append(
            {"tokens": [index + 1, 0], "name": pair, "index": index, "isCanonical": True}
        )
        shown = text(price) if price is not None else None
        contexts.append({"coin": pair, "markPx": shown, "midPx": shown, "prevDayPx": shown})
    return [{"universe": universe, "tokens": tokens}, contexts]


# The recorded WS capture ------------------------------------------------------------------


def recognises_capture(head: str) -> bool:
    first = head.split("\n", 1)[0]
    return first.split(" ", 1)[0].isdigit() and '"channel":' in first


def read_capture(path: Path, symbol: str | None) -> tuple[RecordedSeries, ...]:
    """Every trade of the capture's `trades` frames, once each (the snapshot overlaps)."""
    by_market: dict[str, dict[int, Trade]] = {}
    for row in _trade_rows(path):
        market = symbol or symbol_of(row["coin"])
        by_market.setdefault(market, {}).setdefault(int(row["tid"]), _trade(row))
    kind = SourceKind.HYPERLIQUID_WS_CAPTURE
    return tuple(
        RecordedSeries(
            m, kind, str(path), trades=tuple(sorted(ts.values(), key=lambda t: t.time_ns))
        )
        for m, ts in by_market.items()
    )


def _trade_rows(path: Path) -> Iterator[Mapping[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            frame = json.loads(line.split(" ", 1)[1])
            if frame.get("channel") == "trades":
                yield from frame["data"]


def _trade(row: Mapping[str, Any]) -> Trade:
    return Trade(
        trade_id=0,  # numbered when merged: tids are no sequence
        time_ns=int(row["time"]) * NS_PER_MS,
        price=exact(row["px"]),
        amount=exact(row["sz"]),
        side="buy" if row["side"] == "B" else "sell",
        exchange_id=str(row["tid"]),
        extra=(("hash", row["hash"]), ("users", tuple(row["users"]))),
    )
