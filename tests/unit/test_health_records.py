"""ProcessCache records as fullon_cache writes them, and the rules its readers apply."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ohlcv_collector.core import health_records
from ohlcv_collector.core.health_records import ProcessStatus
from ohlcv_collector.core.liveness import collectors_of, in_window, live_members, symbols_of
from ohlcv_collector.core.phases import Phase
from ohlcv_collector.settings import CollectorSettings

AT = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def record(
    *, component: str, params: dict[str, object], at: datetime = AT
) -> health_records.Record:
    return health_records.new_record(
        process_id=health_records.process_id_of(component=component, at=at),
        component=component,
        params=params,
        message="m",
        status=ProcessStatus.RUNNING,
        at=at,
    )


def symbol(name: str, *, collector: str = "pod-a", at: datetime = AT) -> health_records.Record:
    params = health_records.symbol_params(
        exchange="binance", symbol=name, collector=collector, phase="streaming",
        newest_candle=1_767_323_040_000, newest_trade=None, lag_ms=65_000,
        backfill_progress=1.0, reconnects=2, holes=0,
    )  # fmt: skip
    return record(component=health_records.symbol_component(exchange="binance", symbol=name),
                  params=params, at=at)  # fmt: skip


def collector(
    instance: str, *, at: datetime = AT, status: str = "running"
) -> health_records.Record:
    params = health_records.collector_params(
        exchange="binance", instance=instance, host="h", pid=1, symbols=3
    )
    made = record(
        component=health_records.collector_component(exchange="binance", instance=instance),
        params=params, at=at,
    )  # fmt: skip
    return {**made, "status": status}


def test_a_new_record_has_fullon_keys_in_order_and_iso_times_with_offset() -> None:
    made = symbol("BTC/USDT")
    assert list(made) == ["process_id", "process_type", "component", "params", "status",
                          "message", "created_at", "updated_at", "heartbeat"]  # fmt: skip
    assert made["process_id"] == "ohlcv:binance:BTC/USDT:1767323045.123456"
    assert made["created_at"] == made["heartbeat"] == "2026-01-02T03:04:05.123456+00:00"
    assert made["params"] == {
        "exchange": "binance", "symbol": "BTC/USDT", "type": "live", "collector": "pod-a",
        "phase": "streaming", "newest_candle": "2026-01-02T03:04:00+00:00",
        "newest_trade": None, "lag_seconds": 65.0, "backfill_progress": 1.0,
        "reconnects": 2, "holes": 0,
    }  # fmt: skip
    assert json.loads(json.dumps(made)) == made


def test_updates_merge_params_and_ignore_empty_arguments_as_fullon_does() -> None:
    made = symbol("BTC/USDT")
    later = AT + timedelta(seconds=10)
    updated = health_records.updated_record(made, at=later, message="", params={"holes": 4})
    assert updated["message"] == "m"
    assert updated["status"] == "running"
    assert updated["params"]["holes"] == 4
    assert updated["params"]["symbol"] == "BTC/USDT"
    assert updated["heartbeat"] == updated["updated_at"] == later.isoformat()
    stopped = health_records.updated_record(
        made, at=later, status=ProcessStatus.STOPPED, heartbeat=False
    )
    assert stopped["heartbeat"] == made["heartbeat"]
    assert stopped["status"] == "stopped"


@pytest.mark.parametrize(
    ("phase", "status"),
    [("starting", "starting"), ("backfilling", "running"), ("streaming", "running"),
     ("reconnecting", "running"), ("error", "error"), ("stopped", "stopped")],
)  # fmt: skip
def test_every_phase_has_a_process_status(phase: str, status: str) -> None:
    assert health_records.status_of_phase(Phase(phase)).value == status


def test_the_window_keeps_recent_records_and_drops_naive_or_bad_times() -> None:
    now = AT + timedelta(minutes=5)
    assert in_window(AT.isoformat(), now=now, window=timedelta(minutes=5))
    assert not in_window(
        AT.isoformat(), now=now + timedelta(seconds=1), window=timedelta(minutes=5)
    )
    assert not in_window("2026-01-02T03:04:05", now=now, window=timedelta(days=1))
    assert not in_window("yesterday", now=now, window=timedelta(days=1))


def test_a_silent_heartbeat_is_stale_then_leaves_the_window() -> None:
    records = [symbol("BTC/USDT"), symbol("ETH/USDT", at=AT - timedelta(seconds=40))]
    now = AT + timedelta(seconds=1)
    found = symbols_of(records, exchange="binance", now=now, window=timedelta(minutes=1),
                       stale_after=timedelta(seconds=30))  # fmt: skip
    assert [(s.symbol, s.stale) for s in found] == [("BTC/USDT", False), ("ETH/USDT", True)]
    assert found[0].lag_seconds == 65.0
    assert found[0].newest_candle == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    later = symbols_of(records, exchange="binance", now=AT + timedelta(seconds=25),
                       window=timedelta(minutes=1))  # fmt: skip
    assert [s.symbol for s in later] == ["BTC/USDT"]


def test_during_a_handover_the_fresh_newest_record_wins() -> None:
    old = symbol("BTC/USDT", collector="pod-a", at=AT - timedelta(seconds=20))
    new = symbol("BTC/USDT", collector="pod-b", at=AT)
    for records in ([old, new], [new, old]):
        found = symbols_of(records, exchange="binance", now=AT, window=timedelta(minutes=5),
                           stale_after=timedelta(seconds=10))  # fmt: skip
        assert [(s.collector, s.stale) for s in found] == [("pod-b", False)]


def test_live_members_are_fresh_and_not_stopped_and_other_exchanges_do_not_count() -> None:
    kraken = {
        **collector("pod-k"),
        "params": {**collector("pod-k")["params"], "exchange": "kraken"},
    }
    records = [collector("pod-a"), collector("pod-b", at=AT - timedelta(seconds=50)),
               collector("pod-c", status="stopped"), kraken, symbol("BTC/USDT")]  # fmt: skip
    found = collectors_of(records, exchange="binance", now=AT, window=timedelta(minutes=5),
                          stale_after=timedelta(seconds=30))  # fmt: skip
    assert [(c.instance, c.stale, c.symbols) for c in found] == [
        ("pod-a", False, 3), ("pod-b", True, 3), ("pod-c", False, 3)
    ]  # fmt: skip
    assert live_members(found) == {"pod-a"}


def test_the_handover_must_fit_the_heartbeat_timeout() -> None:
    settings = CollectorSettings(heartbeat_seconds=10, heartbeat_timeout_seconds=60)
    assert settings.member_timeout_seconds() == 30
    with pytest.raises(ValidationError, match="at least targets_refresh_seconds"):
        CollectorSettings(heartbeat_seconds=10, heartbeat_timeout_seconds=45)
