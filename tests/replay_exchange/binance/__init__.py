"""Binance spot: REST (rest.py), market streams (streams.py), bodies (payloads.py); venue.py
is its entry in the table of exchanges."""
