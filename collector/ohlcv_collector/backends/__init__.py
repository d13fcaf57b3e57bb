"""Backends of the ports: built-in ones on ccxt, SQL and redis-py, and fullon ones."""
