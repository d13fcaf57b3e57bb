"""Retry delays: exponential ceiling from base to cap, full jitter, Retry-After, argument
checks; and which errors are our own bugs, never retried."""

import json
from typing import cast

import pytest

from ohlcv_collector.backends.ccxt.convert import trade_of
from ohlcv_collector.core.retry import HEALTH_WRITE, RetryPolicy, backoff_delay, is_our_bug


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


def test_a_policy_doubles_its_jittered_ceiling_from_base_to_cap() -> None:
    policy = RetryPolicy(base=0.5, cap=60.0)
    assert [policy.delay(attempt=a, random=1.0) for a in (0, 1, 7, 8)] == [0.5, 1.0, 60.0, 60.0]
    assert policy.delay(attempt=2, random=0.25) == 0.5


def test_a_policy_without_jitter_waits_the_whole_ceiling() -> None:
    assert RetryPolicy(base=2.0, cap=5.0, jitter=False).delay(attempt=1, random=0.0) == 4.0


def test_retry_after_lengthens_a_delay_only_where_the_policy_honours_it() -> None:
    honours = RetryPolicy(base=1.0, cap=60.0, retry_after=True)
    assert honours.delay(attempt=0, random=0.5, retry_after=7.0) == 7.0
    assert honours.delay(attempt=0, random=0.5, retry_after=0.1) == 0.5
    assert honours.delay(attempt=0, random=0.5, retry_after=None) == 0.5
    ignores = RetryPolicy(base=1.0, cap=60.0)
    assert ignores.delay(attempt=0, random=0.5, retry_after=7.0) == 0.5


def test_capped_holds_the_ceiling_and_lowers_a_base_above_it() -> None:
    assert HEALTH_WRITE.capped(10.0) == RetryPolicy(base=0.5, cap=10.0)
    assert HEALTH_WRITE.capped(0.2) == RetryPolicy(base=0.2, cap=0.2)


def test_a_policy_rejects_a_base_above_its_cap() -> None:
    with pytest.raises(ValueError, match="need 0 < base <= cap"):
        RetryPolicy(base=2.0, cap=1.0)


def test_a_type_error_of_our_code_is_a_bug() -> None:
    with pytest.raises(TypeError) as raised:
        backoff_delay(attempt=cast(int, None), base=1.0, cap=2.0, random=0.5)
    assert is_our_bug(raised.value)


def test_the_same_error_raised_by_a_library_is_not_ours() -> None:
    with pytest.raises(TypeError) as raised:
        json.loads(cast(str, None))
    assert not is_our_bug(raised.value)


def test_an_adapter_failing_on_what_the_outside_world_sent_is_not_our_bug() -> None:
    # A damaged answer parsed as None: backends/ read it, the exchange sent it.
    with pytest.raises(AttributeError) as raised:
        trade_of(None, exchange="binance", symbol="BTC/USDT")
    assert not is_our_bug(raised.value)


def test_only_programming_errors_count_as_bugs() -> None:
    with pytest.raises(ValueError, match="random must be") as raised:
        backoff_delay(attempt=0, base=1.0, cap=2.0, random=2.0)
    assert not is_our_bug(raised.value)
    assert not is_our_bug(KeyError("never raised"))
