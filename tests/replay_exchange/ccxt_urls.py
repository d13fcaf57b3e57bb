"""Pointing ccxt at a replay exchange: the `exchange.urls['api']` override, REST and WS.

ccxt keeps each API's paths and only prefixes them with `urls['api'][key]`, so replacing the
scheme and host of the right keys is enough (../shared/exchange-protocol-notes.md section 2).
Which keys each exchange needs is said by its package (binance/, kraken/, ...).

Apply the override after `set_sandbox_mode`, which replaces `urls['api']`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from tests.replay_exchange.venues import venue_of


def ccxt_api_urls(*, exchange_id: str, http_url: str, ws_url: str) -> dict[str, Any]:
    """The `urls['api']` entries that send `exchange_id` to the replay server."""
    return venue_of(exchange_id).ccxt_urls(http_url=http_url, ws_url=ws_url)


def point_ccxt(exchange: Any, *, urls: Mapping[str, Any]) -> None:
    """Merge `urls` into `exchange.urls['api']`, keeping the keys it does not override."""
    api: MutableMapping[str, Any] = exchange.urls["api"]
    for key, value in urls.items():
        if isinstance(value, Mapping):
            api[key] = {**api.get(key, {}), **value}
        else:
            api[key] = value
