"""Control plane of the fullon OHLCV collection: the OhlcvCollector operator.

Layers import one way: the kopf handlers (thin) call pure desired-state and status
functions, and reuse the collector package's ports for database and Redis access.
"""

from importlib.metadata import version

__version__ = version("fullon-ohlcv-operator")
