"""BitMEX on the replay, without a network: recordings, REST paging, bins, limits, /realtime.

The default market is XBTUSD (BTC/USD:BTC) from the recorded 2020-04-10/11 bins followed by the
recorded latest-1000 trades; the 2020-01-01 pages are the long contiguous trade run.
"""

from __future__ import annotations

import gzip
import itertools
import json
from datetime import datetime
from typing import Any

import pytest

from tests.replay_exchange import ground_truth
from tests.replay_exchange.bitmex import rest
from tests.replay_exchange.bitmex.streams import BitmexStreams
from tests.replay_exchange.datasets import DataSpec, load_markets, shared_data_dir
from tests.replay_exchange.exchange import ReplayConfig, ReplayExchange
from tests.replay_exchange.markets import Moment
from tests.replay_exchange.models import CandleRules
from tests.replay_exchange.ratelimits import BitmexTokens, RateLimitSettings
from tests.replay_exchange.streams import FrameKind

START_NS = 1_795_297_269_519_000_000
SECOND = 1_000_000_000
MINUTE_MS = 60_000
DATA = shared_data_dir() / "bitmex"
SYMBOL = "BTC/USD:BTC"
JANUARY = tuple(DataSpec(p) for p in sorted((DATA / "rest_trade").glob("XBTUSD_20200101_page*")))


def recorded(relative: str) -> list[dict[str, Any]]:
    with gzip.open(DATA / relative, "rt") as handle:
        rows: list[dict[str, Any]] = json.load(handle)
    return rows


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture(scope="module")
def exchange() -> ReplayExchange:
    return ReplayExchange(config=ReplayConfig(exchange="bitmex"), wall_start_ns=START_NS)


@pytest.fixture
def moment(exchange: ReplayExchange) -> Moment:
    return exchange.moment(wall_ns=START_NS)


def test_the_january_pages_merge_into_4903_contiguous_trades_served_as_recorded() -> None:
    market = load_markets(JANUARY, rules=CandleRules(open_is_previous_close=True))[SYMBOL]
    assert len(market.trades) == 4903
    assert len({t.exchange_id for t in market.trades}) == 4903
    first_page = recorded("rest_trade/XBTUSD_20200101_page1_trade-e6f0f4.json.gz")
    moment = Moment(now_ns=market.trades[-1].time_ns, markets={SYMBOL: market}, delisted_at_ns={})
    params = {"symbol": "XBTUSD", "count": "1000", "startTime": "2020-01-01T12:00:00Z"}
    served = rest.trades(params=params, moment=moment).body
    assert [{k: v for k, v in row.items() if k != "trdType"} for row in served] == first_page
    assert {row["trdType"] for row in served} == {"Regular"}


def test_start_offsets_page_through_equal_timestamps_without_loss(moment: Moment) -> None:
    market = moment.markets[SYMBOL]
    visible = market.visible_trades(now_ns=moment.now_ns)
    pages: list[dict[str, Any]] = []
    while True:
        params = {"symbol": "XBTUSD", "count": "77", "start": str(len(pages))}
        page = rest.trades(params=params, moment=moment).body
        pages.extend(page)
        if len(page) < 77:
            break
    assert [row["trdMatchID"] for row in pages] == [t.exchange_id for t in market.trades[:visible]]
    newest = rest.trades(
        params={"symbol": "XBTUSD", "count": "3", "reverse": "true"}, moment=moment
    )
    assert [row["trdMatchID"] for row in newest.body] == [
        t.exchange_id for t in reversed(market.trades[visible - 3 : visible])
    ]


def test_bins_are_labelled_by_their_end_and_open_at_the_previous_close(moment: Moment) -> None:
    rows = rest.bins(
        params={"symbol": "XBTUSD", "binSize": "1m", "count": "1000", "reverse": "true"},
        moment=moment,
    ).body
    market = moment.markets[SYMBOL]
    closed = market.final_candles(now_ms=moment.now_ms)
    assert [ms(r["timestamp"]) for r in rows] == [
        market.candles[i].open_ms + MINUTE_MS for i in reversed(range(closed))
    ]
    assert 0 < closed < 1000
    ascending = list(reversed(rows))
    assert all(b["open"] == a["close"] for a, b in itertools.pairwise(ascending))
    partial = rest.bins(
        params={"symbol": "XBTUSD", "binSize": "1m", "partial": "true", "reverse": "true"},
        moment=moment,
    ).body[0]
    assert ms(partial["timestamp"]) > moment.now_ms  # the bin in progress, stamped by its end


def test_recorded_bins_are_served_with_their_own_values() -> None:
    exchange = ReplayExchange(
        config=ReplayConfig(exchange="bitmex", start_ms=ms("2020-04-11T15:05:00Z")),
        wall_start_ns=START_NS,
    )
    moment = exchange.moment(wall_ns=START_NS)
    body = "rest_bucketed/XBTUSD_1m_20200410T2221_20200411T1500_bucketed-7c9bba.json.gz"
    newest_recorded = recorded(body)[:5]  # newest first, as recorded
    offset = exchange.offsets_ms[SYMBOL]
    end = newest_recorded[0]["timestamp"]
    params = {"symbol": "XBTUSD", "binSize": "1m", "reverse": "true", "count": "5"}
    served = rest.bins(params={**params, "endTime": _served_iso(end, offset)}, moment=moment).body
    assert [{**row, "timestamp": None} for row in served] == [
        {**row, "timestamp": None} for row in newest_recorded
    ]


def _served_iso(text: str, offset_ms: int) -> str:
    return datetime.fromtimestamp((ms(text) + offset_ms) / 1000).astimezone().isoformat()


def test_bin_sizes_and_counts_are_refused_as_bitmex_refuses_them(moment: Moment) -> None:
    with pytest.raises(rest.BitmexError, match="binSize"):
        rest.bins(params={"symbol": "XBTUSD", "binSize": "2m"}, moment=moment)
    with pytest.raises(rest.BitmexError, match="count") as too_many:
        rest.trades(params={"symbol": "XBTUSD", "count": "1001"}, moment=moment)
    assert too_many.value.reply().status == 400
    assert too_many.value.reply().body["error"]["name"] == "ValidationError"
    assert rest.trades(params={"symbol": "ETHUSD"}, moment=moment).body == []


def test_token_bucket_answers_429_with_retry_after_and_ratelimit_headers() -> None:
    tokens = BitmexTokens(settings=RateLimitSettings())
    assert all(tokens.charge(ip="a", now_s=100.0) is None for _ in range(30))
    refused = tokens.charge(ip="a", now_s=100.0)
    assert refused is not None
    assert refused.status == 429
    assert refused.body["error"]["name"] == "RateLimitError"
    assert refused.headers["Retry-After"] == "2"  # 30 a minute: one token every 2 s
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Reset"] == "160"
    assert tokens.charge(ip="b", now_s=100.0) is None  # per IP
    assert tokens.charge(ip="a", now_s=102.0) is None
    assert tokens.headers(ip="a", now_s=130.0)["X-RateLimit-Remaining"] == "14"


def test_realtime_welcome_ack_partial_then_inserts(exchange: ReplayExchange) -> None:
    streams = BitmexStreams()
    start = exchange.moment(wall_ns=START_NS)
    welcome = streams.on_connect(moment=start)[0].payload
    assert welcome["info"] == "Welcome to the BitMEX Realtime API."
    request = {"op": "subscribe", "args": ["trade:XBTUSD", "tradeBin1m:XBTUSD"]}
    frames = streams.on_message(message=request, moment=start)
    assert [f.payload.get("success") for f in frames if f.kind is FrameKind.CONTROL] == [True] * 2
    partials = [f.payload for f in frames if f.kind is not FrameKind.CONTROL]
    assert [(p["table"], p["action"]) for p in partials] == [
        ("trade", "partial"),
        ("tradeBin1m", "partial"),
    ]
    sent = []
    for step in range(1, 181):
        sent.extend(streams.poll(moment=exchange.moment(wall_ns=START_NS + step * SECOND)))
    trade_rows = [r for f in sent if f.payload["table"] == "trade" for r in f.payload["data"]]
    bin_rows = [f.payload["data"][0] for f in sent if f.payload["table"] == "tradeBin1m"]
    later = exchange.moment(wall_ns=START_NS + 180 * SECOND)
    market = later.markets[SYMBOL]
    first = market.visible_trades(now_ns=start.now_ns)
    assert [r["trdMatchID"] for r in trade_rows] == [
        t.exchange_id for t in market.trades[first : market.visible_trades(now_ns=later.now_ns)]
    ]
    assert len(bin_rows) == 3
    assert all(ms(r["timestamp"]) % MINUTE_MS == 0 for r in bin_rows)
    assert ms(bin_rows[-1]["timestamp"]) <= later.now_ms  # sent once the minute is over


def test_realtime_ping_and_refusals(moment: Moment) -> None:
    streams = BitmexStreams()
    assert [f.payload for f in streams.on_message(message="ping", moment=moment)] == ["pong"]
    refused = streams.on_message(
        message={"op": "subscribe", "args": ["book:XBTUSD"]}, moment=moment
    )
    assert refused[0].payload["status"] == 400
    assert "Unknown table" in refused[0].payload["error"]


def test_ground_truth_keys_bins_by_open_and_trades_by_trdmatchid(moment: Moment) -> None:
    market = moment.markets[SYMBOL]
    trades = ground_truth.rows(
        exchange="bitmex", kind="trades", market=market, horizon_ns=moment.now_ns
    )
    assert [row["trade_id"] for row in trades] == [
        t.exchange_id for t in market.trades[: market.visible_trades(now_ns=moment.now_ns)]
    ]
    candles = ground_truth.rows(
        exchange="bitmex", kind="candles_1m", market=market, horizon_ns=moment.now_ns
    )
    bins = rest.bins(
        params={"symbol": "XBTUSD", "binSize": "1m", "count": "1000"}, moment=moment
    ).body
    by_label = {ms(b["timestamp"]): b for b in bins}
    for row in candles[: len(bins)]:
        served = by_label[int(row["open_time_ms"]) + MINUTE_MS]
        assert float(row["open"]) == served["open"]
        assert float(row["close"]) == served["close"]
