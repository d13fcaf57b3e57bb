"""Built-in market-data backend for BitMEX on aiohttp: the pinned ccxt has no bitmex class.

`wire` turns BitMEX's JSON into the collector's models (pure), `rest` makes paced REST
requests and maps failures to the ports' errors, `stream` reads the /realtime WebSocket,
and `market` puts them together as the `Market` port.
"""
