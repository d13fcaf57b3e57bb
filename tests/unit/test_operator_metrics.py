"""Paused symbols and the per-exchange gauges: what the alerts read (pure parts)."""

from prometheus_client import generate_latest

from ohlcv_operator import metrics
from ohlcv_operator.health import HealthSnapshot, SymbolReport, Verdict, summarize

STALE = SymbolReport(
    symbol="BTC/USDT",
    status="ok",
    message="streaming",
    stale=True,
    backfilling=False,
    lag_seconds=900,
    newest_candle=None,
)


def test_a_paused_resource_has_paused_symbols_not_unhealthy_ones() -> None:
    snapshot = HealthSnapshot(collectors_alive=0, symbols={"BTC/USDT": STALE})
    running = summarize(snapshot=snapshot, targets=["BTC/USDT", "ETH/USDT"], stale_lag_seconds=60)
    assert running.count(Verdict.STALE) == 2
    paused = summarize(
        snapshot=snapshot, targets=["BTC/USDT", "ETH/USDT"], stale_lag_seconds=60, paused=True
    )
    status = paused.as_status()
    assert (status["symbolsPaused"], status["symbolsStale"], status["symbolsError"]) == (2, 0, 0)
    assert status["unhealthy"] == []
    assert status["symbolsHealthy"] == 0


def test_forget_drops_every_series_of_an_exchange() -> None:
    for gauge in metrics.PER_EXCHANGE:
        gauge.labels(exchange="deleted-exchange").set(3)
        gauge.labels(exchange="kept-exchange").set(1)
    metrics.forget("deleted-exchange")
    metrics.forget("never-seen")  # nothing to drop is fine
    text = generate_latest(metrics.REGISTRY).decode()
    assert 'exchange="deleted-exchange"' not in text
    assert text.count('exchange="kept-exchange"') == len(metrics.PER_EXCHANGE)
    for gauge in metrics.PER_EXCHANGE:
        gauge.remove("kept-exchange")
