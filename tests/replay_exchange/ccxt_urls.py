"""Pointing ccxt at a replay exchange: the `exchange.urls['api']` override, REST and WS.

ccxt keeps each API's paths and only prefixes them with `urls['api'][key]`, so replacing the
scheme and host of the right keys is enough (../shared/exchange-protocol-notes.md section 2):

- binance: `public` (spot REST, `/api/v3`), `fapiPublic` and `dapiPublic` (the futures
  exchangeInfo that ccxt's default load_markets also asks; answered with no contracts), and
  `ws.spot` (ccxt appends `/<stream index>`).
- kraken: `public` (REST; ccxt adds `/0/public/...`) and `ws.publicV2` (must contain "v2", or
  ccxt sends v1 pings).

Apply the override after `set_sandbox_mode`, which replaces `urls['api']`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any


def ccxt_api_urls(*, exchange_id: str, http_url: str, ws_url: str) -> dict[str, Any]:
    """The `urls['api']` entries that send `exchange_id` to the replay server."""
    if exchange_id == "binance":
        return {
            "public": f"{http_url}/api/v3",
            "fapiPublic": f"{http_url}/fapi/v1",
            "dapiPublic": f"{http_url}/dapi/v1",
            "ws": {"spot": f"{ws_url}/ws"},
        }
    if exchange_id == "kraken":
        return {"public": http_url, "ws": {"publicV2": f"{ws_url}/v2"}}
    raise ValueError(f"the replay exchange speaks binance and kraken, not {exchange_id!r}")


def point_ccxt(exchange: Any, *, urls: Mapping[str, Any]) -> None:
    """Merge `urls` into `exchange.urls['api']`, keeping the keys it does not override."""
    api: MutableMapping[str, Any] = exchange.urls["api"]
    for key, value in urls.items():
        if isinstance(value, Mapping):
            api[key] = {**api.get(key, {}), **value}
        else:
            api[key] = value
