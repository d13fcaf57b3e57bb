"""Times and lags as people read them, the same in every table and status."""

from datetime import UTC, datetime, timedelta, timezone

from ohlcv_collector.core.formatting import format_lag, format_utc, format_utc_ms


def test_a_lag_is_written_in_whole_units_from_two_of_them_up() -> None:
    seconds = (None, 0, 4, 119, 120, 5_399.9, 7_200, 200_000)
    assert [format_lag(s) for s in seconds] == ["-", "0s", "4s", "119s", "2m", "89m", "2h", "2d"]


def test_times_are_written_in_utc_to_the_second() -> None:
    at = datetime(2026, 1, 2, 4, 4, 0, 999_000, tzinfo=timezone(timedelta(hours=1)))
    assert format_utc(at) == "2026-01-02T03:04:00Z"
    assert format_utc_ms(int(at.timestamp() * 1000)) == "2026-01-02T03:04:00Z"
    assert (
        format_utc_ms(0) == format_utc(datetime(1970, 1, 1, tzinfo=UTC)) == ("1970-01-01T00:00:00Z")
    )
