"""How everything that fails is retried: one policy type, its named settings, and the rule
for what is never retried.

Every collector of an exchange retries against the same database and the same exchange,
so after an outage they must not all come back at the same instant. "Full jitter" (a
uniform draw between zero and the exponential ceiling) spreads retries the most for the
least total wait. The random draw is an argument, so each schedule is a pure function.

The named policies below are every retry schedule of the collector, in one place, each
with the reason for its numbers. A programming error of the collector's own code is the
one failure that is not retried: waiting cannot fix it (see `is_our_bug`).
"""

import os
from dataclasses import dataclass, replace
from pathlib import Path

# 2.0 ** 1024 overflows a float; any exponent this large is far past every sensible cap.
_LARGEST_EXPONENT = 1000


def backoff_delay(*, attempt: int, base: float, cap: float, random: float) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry).

    The ceiling doubles with each attempt from `base` up to `cap`; `random` in [0, 1]
    picks the delay between zero and that ceiling.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, not {attempt}")
    if not 0 < base <= cap:
        raise ValueError(f"need 0 < base <= cap, not base={base}, cap={cap}")
    if not 0.0 <= random <= 1.0:
        raise ValueError(f"random must be in [0, 1], not {random}")
    ceiling = min(cap, base * 2.0 ** min(attempt, _LARGEST_EXPONENT))
    return random * ceiling


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """One retry schedule: the ceiling doubles from `base` to `cap` seconds.

    `jitter` draws the delay between zero and the ceiling (off: wait the ceiling);
    `retry_after` lets the server's Retry-After lengthen a delay, never shorten it.
    """

    base: float
    cap: float
    jitter: bool = True
    retry_after: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.cap:
            raise ValueError(f"need 0 < base <= cap, not base={self.base}, cap={self.cap}")

    def delay(self, *, attempt: int, random: float, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry)."""
        drawn = random if self.jitter else 1.0
        wait = backoff_delay(attempt=attempt, base=self.base, cap=self.cap, random=drawn)
        if self.retry_after and retry_after is not None:
            return max(wait, retry_after)
        return wait

    def capped(self, cap: float) -> "RetryPolicy":
        """The same schedule with its ceiling held at `cap` (and its base no higher)."""
        return replace(self, base=min(self.base, cap), cap=cap)


# A failed REST request (5xx, timeout, reset, a malformed body): quick at first, since
# most failures are one dropped connection, then at most a minute apart.
EXCHANGE_REQUEST = RetryPolicy(base=0.5, cap=60.0)
# The exchange refused a request for its rate limit: its Retry-After is the least wait,
# and the first ceiling is a whole second, the window most exchanges count requests in.
RATE_LIMITED = RetryPolicy(base=1.0, cap=60.0, retry_after=True)
# A repair pass failed for a reason its requests did not retry themselves.
REPAIR_PASS = RetryPolicy(base=1.0, cap=60.0)
# A stream's connection dropped or failed: reconnect at once, then back off to a minute.
STREAM_RECONNECT = RetryPolicy(base=0.5, cap=60.0)
# The exchange does not list the symbol: markets change in minutes to hours, so asking
# again every few seconds only spends the rate limit (both the repair and the streams).
UNLISTED_SYMBOL = RetryPolicy(base=30.0, cap=600.0)
# A storage write failed: the rows wait in the writer's buffer, which fills while the
# database is away, so retry soon; at most 30 s apart so a database back is noticed soon.
STORAGE_WRITE = RetryPolicy(base=0.1, cap=30.0)
# ...and once the collector is stopping, at most a second apart: a stopping Pod has a
# grace period (30 s by default) to store what it holds.
STORAGE_WRITE_CLOSING = RetryPolicy(base=0.1, cap=1.0)
# Health records not written (Redis away): never more than one heartbeat apart, so the
# records are current again within a heartbeat of Redis returning (see `capped`).
HEALTH_WRITE = RetryPolicy(base=0.5, cap=60.0)

# The errors of code that asks for something that is not there, or of the wrong type.
PROGRAMMING_ERRORS = (AttributeError, IndexError, KeyError, NameError, TypeError)
_OUR_CODE = str(Path(__file__).parent.parent) + os.sep  # the ohlcv_collector package
_ADAPTERS = f"{_OUR_CODE}backends{os.sep}"


def is_our_bug(error: BaseException) -> bool:
    """True for a programming error raised in the collector's own logic.

    Retrying cannot fix it, so it must not be retried forever as if an exchange had
    failed. The same error types raised inside a library (ccxt parsing a malformed
    body, say) or in an adapter reading what the outside world sent (backends/, where an
    answer missing a field is the exchange's fault) are retried like any failure.
    """
    if not isinstance(error, PROGRAMMING_ERRORS):
        return False
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return False
    where = frame.tb_frame.f_code.co_filename
    return where.startswith(_OUR_CODE) and not where.startswith(_ADAPTERS)
