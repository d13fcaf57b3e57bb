"""Where a symbol's collection stands: the phases every reporter names the same way.

The collector's status records, its log lines and metrics, the ProcessCache health
records and the operator all use these values, so a phase is spelled in one place.
"""

from enum import StrEnum


class Phase(StrEnum):
    """Where a symbol's collection stands."""

    STARTING = "starting"  # not collecting yet (also: waiting for the exchange's markets)
    BACKFILLING = "backfilling"  # fetching its history over REST before it is current
    STREAMING = "streaming"  # current, kept so by streams (or by polling REST)
    RECONNECTING = "reconnecting"  # a stream dropped and is being opened again
    ERROR = "error"  # failing; the message says why
    STOPPED = "stopped"  # no longer collected by this process


def phase_while_repairing(current: Phase) -> Phase:
    """The phase of a symbol whose repair pass found holes.

    A symbol not yet current is backfilling. One already streaming stays streaming (or
    reconnecting) while a repair fills a hole behind it: the data it serves is current,
    and a phase flipping to `backfilling` and back at every repair pass would make health
    and status flicker.
    """
    if current in (Phase.STREAMING, Phase.RECONNECTING):
        return current
    return Phase.BACKFILLING
