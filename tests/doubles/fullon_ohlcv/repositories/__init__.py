"""Stands in for fullon_ohlcv.repositories (not installable here)."""
