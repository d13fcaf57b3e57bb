"""The health watch's fingerprint: it moves exactly when what the status judges moves.

The operator reconciles a resource between resyncs only when the fingerprint of its health
changed, so a change it misses reaches `.status` a resync late, and a change it sees that
the status does not is a reconcile (and its API requests) for nothing. Each case pairs the
fingerprint with the status the operator would write from the same two snapshots.
"""

from dataclasses import replace
from typing import Any

import pytest

from ohlcv_operator.health import HealthSnapshot, Verdict, fingerprint
from ohlcv_operator.spec import CollectorSpec
from ohlcv_operator.status import (
    Change,
    DeploymentState,
    Observation,
    classify_change,
    compute_status,
)
from tests.unit.operator_samples import report

THRESHOLD = 300
TARGETS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]  # SOL/USDT: a target nobody reports yet


BASE = HealthSnapshot(
    collectors_alive=2,
    symbols={
        "BTC/USDT": report("BTC/USDT"),
        "ETH/USDT": report(
            "ETH/USDT", status="error", message="error: bad symbol", lag_seconds=2.0
        ),
    },
)


def with_btc(**changes: Any) -> HealthSnapshot:
    """BASE with BTC/USDT's report changed."""
    btc = replace(BASE.symbols["BTC/USDT"], **changes)
    return replace(BASE, symbols={**BASE.symbols, "BTC/USDT": btc})


def status_change(before: HealthSnapshot, after: HealthSnapshot) -> Change:
    """How the status the operator writes from `before` changes with `after`."""

    def status(health: HealthSnapshot, previous: dict[str, Any] | None) -> dict[str, Any]:
        seen = Observation(
            name="binance",
            generation=1,
            spec=CollectorSpec(exchange="binance", replicas=2),
            targets=TARGETS,
            deployment=DeploymentState(2, 2, 2, 2, observed_current=True),
            health=health,
        )
        return compute_status(seen=seen, previous=previous, now="T", stale_lag_seconds=THRESHOLD)

    first = status(before, None)
    return classify_change(before=first, after=status(after, first))


def moved(before: HealthSnapshot, after: HealthSnapshot) -> bool:
    return fingerprint(snapshot=before, stale_lag_seconds=THRESHOLD) != fingerprint(
        snapshot=after, stale_lag_seconds=THRESHOLD
    )


# Each: what changed, the snapshot after it, and how the written status changes.
SEEN = [
    ("a collector died", replace(BASE, collectors_alive=1), Change.MEANINGFUL),
    ("every collector died", replace(BASE, collectors_alive=0), Change.MEANINGFUL),
    ("a symbol failed", with_btc(status="error", message="error: boom"), Change.MEANINGFUL),
    ("a heartbeat went stale", with_btc(stale=True), Change.MEANINGFUL),
    ("data fell behind the threshold", with_btc(lag_seconds=301.0), Change.MEANINGFUL),
    (
        "a failed symbol recovered",
        replace(BASE, symbols={**BASE.symbols, "ETH/USDT": report("ETH/USDT")}),
        Change.MEANINGFUL,
    ),
    (
        "a target's record appeared",
        replace(BASE, symbols={**BASE.symbols, "SOL/USDT": report("SOL/USDT")}),
        Change.MEANINGFUL,
    ),
    (
        "a symbol's record vanished",
        replace(BASE, symbols={"ETH/USDT": BASE.symbols["ETH/USDT"]}),
        Change.MEANINGFUL,
    ),
    # Seen although the status does not show it: one reconcile that writes nothing.
    (
        "a symbol that is no target appeared",
        replace(BASE, symbols={**BASE.symbols, "XRP/USDT": report("XRP/USDT")}),
        Change.NONE,
    ),
]

# Each: what changed, the snapshot after it, and how the written status changes.
NOT_SEEN = [
    ("the same records read again", replace(BASE, symbols=dict(BASE.symbols)), Change.NONE),
    ("the lag moved under the threshold", with_btc(lag_seconds=299.0), Change.FIGURES),
    ("the lag reached the threshold exactly", with_btc(lag_seconds=300.0), Change.FIGURES),
    ("a newer candle", with_btc(newest_candle="2026-11-21T10:01:00Z"), Change.FIGURES),
    ("the lag became unknown", with_btc(lag_seconds=None), Change.FIGURES),
    ("a backfill far behind", with_btc(backfilling=True, lag_seconds=9e5), Change.FIGURES),
    ("another healthy process status", with_btc(status="processing"), Change.NONE),
    ("a healthy symbol's message", with_btc(message="streaming, 3 reconnects"), Change.NONE),
    (
        "the records listed in another order",
        replace(BASE, symbols=dict(reversed(list(BASE.symbols.items())))),
        Change.NONE,
    ),
    # Shown in the unhealthy list, but waits for the resync: messages may move every beat.
    (
        "a failing symbol's message",
        replace(
            BASE,
            symbols={
                **BASE.symbols,
                "ETH/USDT": replace(BASE.symbols["ETH/USDT"], message="error: other"),
            },
        ),
        Change.MEANINGFUL,
    ),
]


@pytest.mark.parametrize(("what", "after", "change"), SEEN, ids=[c[0] for c in SEEN])
def test_a_change_of_what_the_status_judges_moves_the_fingerprint(
    what: str, after: HealthSnapshot, change: Change
) -> None:
    assert moved(BASE, after), what
    assert status_change(BASE, after) is change


@pytest.mark.parametrize(("what", "after", "change"), NOT_SEEN, ids=[c[0] for c in NOT_SEEN])
def test_heartbeat_figures_and_messages_leave_the_fingerprint_alone(
    what: str, after: HealthSnapshot, change: Change
) -> None:
    assert not moved(BASE, after), what
    assert status_change(BASE, after) is change


def test_a_lag_that_stays_behind_is_one_fingerprint_and_one_written_status() -> None:
    behind, further = with_btc(lag_seconds=400.0), with_btc(lag_seconds=4000.0)
    assert not moved(behind, further)
    assert status_change(behind, further) is Change.FIGURES


def test_the_fingerprint_judges_with_the_threshold_it_is_given() -> None:
    late = with_btc(lag_seconds=120.0)
    strict = fingerprint(snapshot=late, stale_lag_seconds=60)
    lenient = fingerprint(snapshot=late, stale_lag_seconds=THRESHOLD)
    assert dict(strict.verdicts)["BTC/USDT"] is Verdict.STALE
    assert dict(lenient.verdicts)["BTC/USDT"] is Verdict.HEALTHY


def test_the_fingerprint_names_each_reported_symbols_verdict_and_the_live_collectors() -> None:
    found = fingerprint(snapshot=with_btc(stale=True), stale_lag_seconds=THRESHOLD)
    assert found.collectors_alive == 2
    assert found.verdicts == (("BTC/USDT", Verdict.STALE), ("ETH/USDT", Verdict.ERROR))
    empty = fingerprint(snapshot=HealthSnapshot(0, {}), stale_lag_seconds=THRESHOLD)
    assert (empty.collectors_alive, empty.verdicts) == (0, ())
