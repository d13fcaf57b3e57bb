"""Rate-limit accounting and the fault plan's decisions, without any network.

Covers Binance's weight windows, 429 with Retry-After, 418 bans that double; Kraken's decaying
per-pair counters; the admin updates of a plan; 5xx bursts; REST and WS body faults; duplicate
and reordered trade frames.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.replay_exchange.faults import MALFORMED_BODY, FaultPlan, FrameFaults, HttpFaults
from tests.replay_exchange.ratelimits import BinanceWeights, KrakenCounters, RateLimitSettings

LIMITS = RateLimitSettings(
    binance_weight_per_minute=50, binance_429s_before_ban=2, binance_first_ban_s=120
)


def test_binance_weight_over_the_minute_is_429_with_retry_after_until_the_next_window() -> None:
    weights = BinanceWeights(settings=LIMITS)
    assert [weights.charge(ip="a", weight=20, now_s=600.0) for _ in range(2)] == [None, None]
    refused = weights.charge(ip="a", weight=20, now_s=615.0)
    assert refused is not None
    assert refused.status == 429
    assert refused.body["code"] == -1003
    assert refused.headers["Retry-After"] == "45"
    assert weights.charge(ip="b", weight=20, now_s=615.0) is None  # per IP
    assert weights.charge(ip="a", weight=20, now_s=660.0) is None  # a new window
    assert weights.used_weight_header(ip="a") == {"X-MBX-USED-WEIGHT-1M": "20"}


def test_binance_windows_start_at_the_origin_a_test_sets() -> None:
    weights = BinanceWeights(settings=dataclasses.replace(LIMITS, binance_window_origin_s=615.5))
    assert weights.charge(ip="a", weight=50, now_s=615.5) is None  # the window starts here
    refused = weights.charge(ip="a", weight=1, now_s=660.0)  # a wall-clock minute would reset
    assert refused is not None
    assert refused.headers["Retry-After"] == "16"  # 675.5 - 660, rounded up
    assert weights.charge(ip="a", weight=50, now_s=675.5) is None


def test_binance_bans_clients_that_do_not_back_off_and_doubles_the_ban() -> None:
    weights = BinanceWeights(settings=LIMITS)
    statuses = []
    for _ in range(6):
        reply = weights.charge(ip="a", weight=20, now_s=600.0)
        statuses.append(reply.status if reply else 200)
    assert statuses == [200, 200, 429, 429, 418, 418]
    banned = weights.charge(ip="a", weight=1, now_s=719.0)
    assert banned is not None
    assert banned.status == 418
    assert "IP banned until 720000" in banned.body["msg"]
    assert weights.charge(ip="a", weight=1, now_s=721.0) is None  # the first ban lasted 120 s
    for _ in range(4):
        weights.charge(ip="a", weight=30, now_s=730.0)
    second = weights.charge(ip="a", weight=1, now_s=731.0)
    assert second is not None
    assert second.headers["Retry-After"] == "239"


def test_kraken_counters_are_per_pair_and_decay() -> None:
    counters = KrakenCounters(
        settings=RateLimitSettings(kraken_max_counter=3, kraken_decay_per_s=1)
    )
    assert [counters.charge(ip="a", pair="XBTUSD", now_s=0) for _ in range(3)] == [None] * 3
    refused = counters.charge(ip="a", pair="XBTUSD", now_s=0)
    assert refused is not None
    assert refused.body == {"error": ["EAPI:Rate limit exceeded"]}
    assert counters.charge(ip="a", pair="XBTUSDT", now_s=0) is None
    assert counters.charge(ip="a", pair="XBTUSD", now_s=2.5) is None


def test_plan_updates_accept_plan_and_limit_keys_and_refuse_others() -> None:
    plan = FaultPlan().updated({"ws_close_every_s": 5, "binance_weight_per_minute": 10})
    assert plan.ws_close_every_s == 5
    assert plan.limits.binance_weight_per_minute == 10
    assert plan.as_json()["binance_weight_per_minute"] == 10
    with pytest.raises(ValueError, match="unknown fault settings"):
        plan.updated({"explode": True})


def test_a_5xx_burst_fails_the_next_calls_on_schedule_and_on_demand() -> None:
    faults = HttpFaults(plan=FaultPlan(http_5xx_every_s=10, http_5xx_burst=2, http_5xx_status=502))
    assert faults.failure_status(now_s=0) is None
    assert [faults.failure_status(now_s=10 + k) for k in range(3)] == [502, 502, None]
    faults.start_burst(calls=1)
    assert [faults.failure_status(now_s=13), faults.failure_status(now_s=13)] == [502, None]


def test_rest_bodies_are_truncated_or_replaced_on_the_counted_answers() -> None:
    faults = HttpFaults(plan=FaultPlan(rest_truncate_every=2, rest_malformed_every=3))
    bodies = [faults.body('{"serverTime":1}') for _ in range(4)]
    assert bodies == ['{"serverTime":1}', '{"server', MALFORMED_BODY, '{"server']


def test_trade_frames_are_duplicated_and_reordered_across_polls() -> None:
    faults = FrameFaults(plan=FaultPlan(ws_duplicate_every=2, ws_reorder_every=3))
    assert faults.trade_frames([1, 2]) == [1, 2, 2]
    assert faults.trade_frames([3]) == []  # held back...
    assert faults.trade_frames([4, 5]) == [4, 4, 3, 5]  # ...and sent after the next one


def test_data_frames_are_damaged_on_the_counted_frames() -> None:
    faults = FrameFaults(plan=FaultPlan(ws_truncate_every=2, ws_malformed_every=3))
    assert [faults.frame("[1,2,3,4]") for _ in range(3)] == ["[1,2,3,4]", "[1,2", MALFORMED_BODY]
