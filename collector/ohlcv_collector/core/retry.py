"""How long to wait before retrying something that failed: exponential backoff with full jitter.

Every collector of an exchange retries against the same database and the same exchange,
so after an outage they must not all come back at the same instant. "Full jitter" (a
uniform draw between zero and the exponential ceiling) spreads retries the most for the
least total wait. The random draw is an argument, so the schedule is a pure function.
"""

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
