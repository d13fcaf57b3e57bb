"""Structured JSON logs on stdout, one object per line, for a cluster's log pipeline.

Context goes in `extra=` (exchange, symbol, phase, progress, ...), so every line can
be filtered by symbol without parsing its message.
"""

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

FIELDS = "{asctime}{levelname}{name}{message}"


def configure_json_logging(*, level: str = "INFO") -> None:
    """Send every log record to stdout as JSON with an ISO time, level and logger name."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter(
            FIELDS,
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
            json_default=str,
        )
    )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # ccxt and aiohttp are chatty at INFO about things the collector reports itself.
    for noisy in ("ccxt", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
