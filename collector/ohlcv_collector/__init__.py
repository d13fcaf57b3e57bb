"""Data plane of the fullon OHLCV collection: one collector process per exchange.

It also holds the ports (targets, market data, storage, health) and their backends,
which the operator reuses, so that the two share one seam per external system.
"""

from importlib.metadata import version

__version__ = version("fullon-ohlcv-operator")
