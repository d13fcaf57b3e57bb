"""Symbol phases: what a repair pass that found holes makes of each phase."""

import pytest

from ohlcv_collector.core.phases import Phase, phase_while_repairing


@pytest.mark.parametrize("current", [Phase.STARTING, Phase.BACKFILLING, Phase.ERROR])
def test_a_symbol_not_yet_current_is_backfilling_its_holes(current: Phase) -> None:
    assert phase_while_repairing(current) is Phase.BACKFILLING


@pytest.mark.parametrize("current", [Phase.STREAMING, Phase.RECONNECTING])
def test_a_repair_behind_a_current_symbol_leaves_its_phase(current: Phase) -> None:
    # A periodic repair of a small hole used to flip a streaming symbol to backfilling
    # and back every minute, so health and status flickered.
    assert phase_while_repairing(current) is current


def test_every_phase_is_spelled_as_the_health_records_and_the_operator_read_it() -> None:
    assert [p.value for p in Phase] == [
        "starting", "backfilling", "streaming", "reconnecting", "error", "stopped"
    ]  # fmt: skip
