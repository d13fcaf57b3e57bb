"""Kraken spot: REST (rest.py), WebSocket v2 (streams.py), bodies (payloads.py); venue.py is
its entry in the table of exchanges."""
