"""Status, conditions and events tell an on-call person what is wrong, and only flip once."""

from pathlib import Path
from typing import Any

import yaml

from ohlcv_collector.core.formatting import format_lag
from ohlcv_operator.conditions import find
from ohlcv_operator.discovery import ExistingResource, plan_discovery
from ohlcv_operator.health import UNHEALTHY_LISTED, HealthSnapshot, Verdict, judge
from ohlcv_operator.settings import DiscoveryMode
from ohlcv_operator.spec import CollectorSpec
from ohlcv_operator.status import (
    Change,
    DeploymentState,
    Observation,
    classify_change,
    compute_status,
    targets_hash,
    transitions,
)
from tests.unit.operator_samples import report

SETTLED = DeploymentState(desired=2, existing=2, ready=2, updated=2, observed_current=True)


def rollout(
    *, desired: int, existing: int, ready: int, stuck: str | None = None
) -> DeploymentState:
    return DeploymentState(
        desired=desired,
        existing=existing,
        ready=ready,
        updated=existing,
        observed_current=True,
        stuck=stuck,
    )


def observe(**changes: Any) -> Observation:
    values: dict[str, Any] = {
        "name": "binance",
        "generation": 3,
        "spec": CollectorSpec(exchange="binance", replicas=2),
        "targets": ["BTC/USDT", "ETH/USDT"],
        "deployment": SETTLED,
        "health": HealthSnapshot(
            collectors_alive=2,
            symbols={
                "BTC/USDT": report("BTC/USDT"),
                "ETH/USDT": report("ETH/USDT", lag_seconds=9.0),
            },
        ),
    }
    values.update(changes)
    return Observation(**values)


def status_of(
    seen: Observation, previous: dict[str, Any] | None = None, now: str = "T1"
) -> dict[str, Any]:
    return compute_status(seen=seen, previous=previous, now=now, stale_lag_seconds=300)


def condition(status: dict[str, Any], kind: str) -> tuple[str, str]:
    found = find(status["conditions"], kind)
    assert found is not None
    return found["status"], found["reason"]


def test_a_healthy_exchange_is_ready_with_its_printer_columns() -> None:
    status = status_of(observe())
    assert condition(status, "Ready") == ("True", "Collecting")
    assert condition(status, "Reconciling") == ("False", "Reconciled")
    assert condition(status, "Stalled") == ("False", "NoErrors")
    assert condition(status, "TargetsFound") == ("True", "TargetsFound")
    assert condition(status, "CollectorsHealthy") == ("True", "AllSymbolsHealthy")
    assert status["summary"] == {"replicas": "2/2", "healthy": "2/2", "lag": "9s"}
    assert status["targets"]["count"] == 2
    assert (
        status["selector"]
        == "app.kubernetes.io/name=fullon-ohlcv-collector,app.kubernetes.io/instance=binance"
    )
    assert status["health"]["collectorsAlive"] == 2
    assert status["observedGeneration"] == 3


def test_unhealthy_symbols_are_counted_and_listed_with_their_messages() -> None:
    health = HealthSnapshot(
        collectors_alive=1,
        symbols={
            "BTC/USDT": report("BTC/USDT", status="error", message="BadSymbol: delisted"),
            "ETH/USDT": report("ETH/USDT", stale=True),
        },
    )
    status = status_of(observe(targets=["BTC/USDT", "ETH/USDT", "SOL/USDT"], health=health))
    assert condition(status, "CollectorsHealthy") == ("False", "SymbolsUnhealthy")
    assert condition(status, "Ready") == ("False", "SymbolsUnhealthy")
    block = status["health"]
    assert (
        block["symbolsTotal"],
        block["symbolsHealthy"],
        block["symbolsStale"],
        block["symbolsError"],
    ) == (3, 0, 2, 1)
    assert {u["symbol"]: u["status"] for u in block["unhealthy"]} == {
        "BTC/USDT": "error",
        "ETH/USDT": "stale",
        "SOL/USDT": "stale",
    }
    assert status["summary"]["healthy"] == "0/3"


def test_backfilling_symbols_are_healthy_despite_their_lag() -> None:
    busy = report("BTC/USDT", backfilling=True, lag_seconds=86_400.0, message="backfilling 45%")
    assert judge(busy, symbol="BTC/USDT", stale_lag_seconds=300).verdict is Verdict.HEALTHY
    late = report("BTC/USDT", lag_seconds=900.0)
    assert judge(late, symbol="BTC/USDT", stale_lag_seconds=300).verdict is Verdict.STALE
    assert judge(None, symbol="X", stale_lag_seconds=300).verdict is Verdict.STALE


def test_transition_time_moves_only_when_the_status_flips() -> None:
    first = status_of(observe(), now="T1")
    again = status_of(observe(), previous=first, now="T2")
    assert again == first  # nothing changed: nothing to write
    broken = status_of(observe(targets=[]), previous=first, now="T3")
    ready = find(broken["conditions"], "Ready")
    assert ready is not None
    assert ready["lastTransitionTime"] == "T3"
    stalled = find(broken["conditions"], "Stalled")
    assert stalled is not None
    assert stalled["lastTransitionTime"] == "T1"


def test_failures_show_as_conditions_with_reasons() -> None:
    invalid = status_of(observe(spec=None, spec_error="unknown exchange 'nosuch'", deployment=None))
    assert condition(invalid, "Stalled") == ("True", "InvalidSpec")
    assert condition(invalid, "Ready") == ("False", "InvalidSpec")
    database = status_of(observe(targets=None, targets_error="connection refused"))
    assert condition(database, "TargetsFound") == ("Unknown", "DatabaseUnavailable")
    redis = status_of(observe(health=None, health_error="Redis down"))
    assert condition(redis, "CollectorsHealthy") == ("Unknown", "HealthUnavailable")
    rolling = status_of(observe(deployment=rollout(desired=3, existing=1, ready=1)))
    assert condition(rolling, "Reconciling") == ("True", "Progressing")
    assert rolling["summary"]["replicas"] == "1/3"
    none = status_of(observe(targets=[]))
    assert condition(none, "TargetsFound") == ("False", "NoTargets")


def test_paused_collectors_are_ready_and_not_judged() -> None:
    status = status_of(
        observe(
            spec=CollectorSpec(exchange="binance", paused=True),
            deployment=rollout(desired=0, existing=0, ready=0),
        )
    )
    assert condition(status, "Ready") == ("True", "Paused")
    assert condition(status, "CollectorsHealthy") == ("Unknown", "Paused")


def test_events_for_targets_and_health_transitions_only() -> None:
    first = status_of(observe())
    assert transitions(before=None, after=first)[0][1] == "TargetsChanged"
    assert transitions(before=first, after=status_of(observe(), previous=first)) == []
    sick = status_of(observe(health=HealthSnapshot(1, {})), previous=first)
    kinds = {(kind, reason) for kind, reason, _ in transitions(before=first, after=sick)}
    assert ("Warning", "SymbolsUnhealthy") in kinds
    grown = status_of(observe(targets=["BTC/USDT", "ETH/USDT", "SOL/USDT"]), previous=first)
    assert ("Normal", "TargetsChanged") in {
        (k, r) for k, r, _ in transitions(before=first, after=grown)
    }


def test_targets_hash_ignores_order_and_lag_formats_compactly() -> None:
    assert targets_hash(["A", "B"]) == targets_hash(["B", "A"]) != targets_hash(["A"])
    assert [format_lag(s) for s in (None, 4, 119, 120, 7200, 200_000)] == [
        "-",
        "4s",
        "119s",
        "2m",
        "2h",
        "2d",
    ]


def test_discovery_creates_for_new_exchanges_and_prunes_only_its_own() -> None:
    existing = [
        ExistingResource("binance", "binance", created_by_operator=True),
        ExistingResource("gitops-kraken", "kraken", created_by_operator=False),
        ExistingResource("bybit", "bybit", created_by_operator=True),
        ExistingResource("okx", "okx", created_by_operator=False),
    ]
    plan = plan_discovery(
        exchanges=["binance", "kraken", "coinbase"],
        existing=existing,
        mode=DiscoveryMode.CREATE,
        prune=True,
    )
    assert plan.create == (("coinbase", "coinbase"),)
    assert plan.delete == ("bybit",)  # okx came from git: never pruned
    keep = plan_discovery(
        exchanges=["binance"], existing=existing, mode=DiscoveryMode.CREATE, prune=False
    )
    assert keep.delete == ()
    off = plan_discovery(exchanges=["coinbase"], existing=[], mode=DiscoveryMode.OFF, prune=True)
    assert (off.create, off.delete) == ((), ())


def test_discovery_reports_a_name_taken_by_another_exchange() -> None:
    existing = [ExistingResource("kraken", "binance", created_by_operator=False)]
    plan = plan_discovery(
        exchanges=["kraken", "binance"], existing=existing, mode=DiscoveryMode.CREATE, prune=False
    )
    assert plan.create == ()
    assert plan.conflicts == ("kraken",)


def test_a_change_of_desired_replicas_is_an_event() -> None:
    first = status_of(observe())
    scaled = status_of(observe(deployment=rollout(desired=3, existing=2, ready=2)), previous=first)
    assert ("Normal", "Scaled", "collectors scaled from 2 to 3") in transitions(
        before=first, after=scaled
    )


def test_status_replicas_count_the_pods_that_exist_and_ready_ones_apart() -> None:
    starting = status_of(observe(deployment=rollout(desired=3, existing=3, ready=1)))
    assert (starting["replicas"], starting["readyReplicas"], starting["desiredReplicas"]) == (
        3,
        1,
        3,
    )
    assert starting["summary"]["replicas"] == "1/3"


def test_a_rollout_past_its_deadline_is_stalled_with_the_deployments_message() -> None:
    message = 'ReplicaSet "binance-collector-5d8" has timed out progressing.'
    stuck = status_of(observe(deployment=rollout(desired=2, existing=2, ready=0, stuck=message)))
    assert condition(stuck, "Stalled") == ("True", "ProgressDeadlineExceeded")
    assert find(stuck["conditions"], "Stalled")["message"] == message  # type: ignore[index]
    assert condition(stuck, "Ready") == ("False", "ProgressDeadlineExceeded")
    events = transitions(before=status_of(observe()), after=stuck)
    assert ("Warning", "ProgressDeadlineExceeded", message) in events


def test_only_a_meaningful_change_is_worth_a_write() -> None:
    first = status_of(observe())
    assert classify_change(before=None, after=first) is Change.MEANINGFUL
    assert classify_change(before=first, after=status_of(observe(), previous=first)) is Change.NONE
    later = HealthSnapshot(
        collectors_alive=2,
        symbols={
            "BTC/USDT": report("BTC/USDT", lag_seconds=41.0, newest_candle="2026-11-21T10:01:00Z"),
            "ETH/USDT": report("ETH/USDT", lag_seconds=3.0),
        },
    )
    moved = status_of(observe(health=later), previous=first)
    assert (moved["summary"]["lag"], moved["health"]["worstLagSeconds"]) == ("41s", 41)
    assert classify_change(before=first, after=moved) is Change.FIGURES
    behind = HealthSnapshot(
        collectors_alive=2,
        symbols={"BTC/USDT": report("BTC/USDT", lag_seconds=400.0), "ETH/USDT": report("ETH/USDT")},
    )
    stale = status_of(observe(health=behind), previous=first)
    assert classify_change(before=first, after=stale) is Change.MEANINGFUL
    further = HealthSnapshot(
        collectors_alive=2,
        symbols={"BTC/USDT": report("BTC/USDT", lag_seconds=460.0), "ETH/USDT": report("ETH/USDT")},
    )
    # Further behind is the same verdict with the same message: only the figures moved.
    assert (
        classify_change(before=stale, after=status_of(observe(health=further), previous=stale))
        is Change.FIGURES
    )
    scaled = status_of(observe(deployment=rollout(desired=2, existing=3, ready=2)), previous=first)
    assert classify_change(before=first, after=scaled) is Change.MEANINGFUL


def test_the_unhealthy_list_cap_is_one_number_in_code_crd_and_readme() -> None:
    root = Path(__file__).resolve().parents[2]
    crd = yaml.safe_load((root / "charts/fullon-ohlcv/files/crd-ohlcvcollectors.yaml").read_text())
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    listed = status["properties"]["health"]["properties"]["unhealthy"]
    assert listed["maxItems"] == UNHEALTHY_LISTED
    assert f"(at most {UNHEALTHY_LISTED})" in listed["description"]
    assert f"(`status.health.unhealthy`, at most {UNHEALTHY_LISTED})" in " ".join(
        (root / "README.md").read_text().split()
    )
    many = HealthSnapshot(collectors_alive=1, symbols={})
    targets = [f"S{i}/USDT" for i in range(UNHEALTHY_LISTED + 5)]
    block = status_of(observe(targets=targets, health=many))["health"]
    assert (block["symbolsStale"], len(block["unhealthy"])) == (len(targets), UNHEALTHY_LISTED)
