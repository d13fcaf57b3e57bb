"""The table of exchanges the replay speaks: name -> the exchange package's `VENUE`.

Adding an exchange is adding its package (see venue.py for what it provides) and its line here.
"""

from __future__ import annotations

from tests.replay_exchange.binance import venue as binance
from tests.replay_exchange.bitmex import venue as bitmex
from tests.replay_exchange.hyperliquid import venue as hyperliquid
from tests.replay_exchange.kraken import venue as kraken
from tests.replay_exchange.venue import Venue

VENUES: dict[str, Venue] = {
    venue.name: venue for venue in (binance.VENUE, kraken.VENUE, bitmex.VENUE, hyperliquid.VENUE)
}

EXCHANGES = tuple(VENUES)


def venue_of(exchange: str) -> Venue:
    """The exchange's venue; a clear error naming the ones there are."""
    try:
        return VENUES[exchange]
    except KeyError:
        raise ValueError(f"exchange must be one of {EXCHANGES}, not {exchange!r}") from None
