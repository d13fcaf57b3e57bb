"""The suite's one way to wait: poll something a user could observe until it holds.

A fixed sleep either wastes time (the event came sooner) or fails now and then (it came
later, on a busy machine). Waiting on the event itself (a row stored, a record written, a
resourceVersion seen, a log line) is as fast as the system allows and as patient as
`timeout`. When time runs out the failure says what was awaited and what was last seen,
so a red test explains itself without a rerun.

`predicate` returns the observed value; any truthy value ends the wait and is returned,
so a caller gets what it waited for without reading it twice. Connection errors (OSError)
count as "not yet": a server that is still starting is not a failure.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

Describe = str | Callable[[], str]


class WaitTimeoutError(AssertionError):
    """What a test waited for did not happen in time (an assertion failure, not an error)."""


def _failure(
    *, describe: Describe, timeout: float, last: object, details: Callable[[], str] | None
) -> WaitTimeoutError:
    said = describe if isinstance(describe, str) else describe()
    message = f"{said}: not true after {timeout:g} s; last observed: {last!r}"
    if details is not None:
        message += f"\n{details()}"
    return WaitTimeoutError(message)


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float,
    describe: Describe,
    interval: float = 0.1,
    details: Callable[[], str] | None = None,
) -> T:
    """Poll `predicate` every `interval` s until it returns a truthy value, and return it.

    `describe` names what is awaited (a function when it depends on what was seen);
    `details` adds context to a failure, such as a process's log.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
        except OSError as error:
            last = error
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise _failure(describe=describe, timeout=timeout, last=last, details=details)
        time.sleep(interval)


async def wait_until_async(
    predicate: Callable[[], Awaitable[T]],
    *,
    timeout: float,  # noqa: ASYNC109 (a polling deadline, the same word as the sync variant)
    describe: Describe,
    interval: float = 0.1,
    details: Callable[[], str] | None = None,
) -> T:
    """`wait_until` for a coroutine predicate, sleeping without blocking the event loop."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = await predicate()
        except OSError as error:
            last = error
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise _failure(describe=describe, timeout=timeout, last=last, details=details)
        await asyncio.sleep(interval)
