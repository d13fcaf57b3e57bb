"""BitMEX derivatives: REST (rest.py), the /realtime WebSocket (streams.py), bodies and recorded
formats (payloads.py); venue.py is its entry in the table of exchanges.

What is real and what is derived (../shared/data/bitmex/SOURCES.md):
- Real: the XBTUSD trades (REST /trade bodies: 4,903 contiguous trades 2020-01-01 12:00-12:16,
  and the latest 1,000 of 2020-04-11 14:59:48-15:02:42) and the 1m bins (/trade/bucketed bodies,
  1,000 bins 2020-04-10 22:21 to 2020-04-11 15:00, and 2020-05-22), every recorded field served
  as recorded (plus `trdType: "Regular"`, which BitMEX added after the recording). The instrument
  entry of /instrument/active is the recorded XBTUSD entry of 2021 (ws_frames/cryptofeed/BITMEX.0)
  with its time and last price brought to the served moment. Frame shapes follow the recorded
  /realtime session (BITMEX.ws.1.0).
- Derived: bins of minutes covered by trades (built from the trades with BitMEX's rules: labelled
  by their end, open = the previous bin's close, turnover = sum of grossValue, vwap = volume /
  homeNotional), tradeBin1m frames (no recording has them; shaped as /trade/bucketed rows, which
  BitMEX documents as the same table).
The default market is BTC/USD:BTC (XBTUSD, inverse perpetual settled in XBT) on 2020-04-10/11:
1,000 recorded bins followed by the latest-1000 trades, which begin inside the last recorded bin.
"""
