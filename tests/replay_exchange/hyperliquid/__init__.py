"""Hyperliquid perpetuals: POST /info (rest.py), the /ws WebSocket (streams.py), bodies and the
recorded capture format (payloads.py); venue.py is its entry in the table of exchanges.

What is real and what is derived (../shared/data/hyperliquid/SOURCES.md): no long Hyperliquid
trade or 1m candle recording exists, so
- Real: the market list and contexts (`meta`, `metaAndAssetCtxs`: the recorded 2025-08-22
  bodies, kept to the coins served, BTC first as recorded; prices in the context brought to the
  served moment), the USDC token of `spotMeta`, every message shape (the candleSnapshot body of
  2023, the WS `trades` frames of 2025-01-26), and, when replayed with
  `--data ws_frames/hftbacktest/hyperliquid_btcusd_20250126.gz`, 64 real BTC trades with their
  own tid, hash and users.
- Derived: the default BTC/USDC:USDC market serves real BTC 1m candles recorded on another
  exchange (Binance.US BTC/USDC, 2023-03); trades served from another exchange's tape (for
  example `--data BTC/USDC:USDC=trades/binance_spot_ws/btcusdt_20240808.gz`) get Hyperliquid-style
  ids: a tid scattered like Hyperliquid's (never consecutive), a hash and users made from it.
  A market served without a settle currency (`--data BTC/USDC=...`) is a spot pair: its token
  and pair entries in spotMeta are shaped as the recorded ones but made up (a canonical pair
  named BASE/USDC, as Hyperliquid names PURR/USDC); `perpDexs` lists no builder dex (only the
  main perp dex is replayed); `exchangeStatus` answers the served time.
Hyperliquid's own rules: a minute without trades has no candle (candleSnapshot and the candle
channel leave it out); candleSnapshot serves only the most recent 5000 candles of an interval
(older history is not available at all), returning those that overlap [startTime, endTime].
"""
