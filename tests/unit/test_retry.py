"""Retry delays: exponential ceiling from base to cap, full jitter, argument checks."""

import pytest

from ohlcv_collector.core.retry import backoff_delay


def test_ceiling_doubles_from_base_until_the_cap() -> None:
    ceilings = [backoff_delay(attempt=a, base=0.1, cap=30.0, random=1.0) for a in range(12)]
    assert ceilings == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0, 30.0]
    )


def test_jitter_picks_between_zero_and_the_ceiling() -> None:
    assert backoff_delay(attempt=3, base=0.1, cap=30.0, random=0.0) == 0.0
    assert backoff_delay(attempt=3, base=0.1, cap=30.0, random=0.5) == pytest.approx(0.4)
    assert backoff_delay(attempt=20, base=0.1, cap=30.0, random=0.25) == pytest.approx(7.5)


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    assert backoff_delay(attempt=10**9, base=0.1, cap=30.0, random=1.0) == 30.0


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "random"),
    [(-1, 0.1, 30.0, 0.5), (0, 0.0, 30.0, 0.5), (0, 1.0, 0.5, 0.5), (0, 0.1, 30.0, 1.5),
     (0, 0.1, 30.0, -0.1)],
)  # fmt: skip
def test_rejects_meaningless_arguments(
    attempt: int, base: float, cap: float, random: float
) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        backoff_delay(attempt=attempt, base=base, cap=cap, random=random)
