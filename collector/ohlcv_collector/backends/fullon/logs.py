"""Logs through fullon_log (fullon-contract.md section 5).

The collector logs with the standard library; where fullon_log is installed, a handler
passes every record to its component logger (`fullon.ohlcv.<module>`), with the record's
`extra` fields as structured context, so fullon's formats, files and levels apply.
Importing fullon_cache reconfigures fullon_log's global logger, so it is imported first
and our configuration is applied after it, not undone by it.
"""

import logging
from typing import Any

from ohlcv_collector.backends.fullon import available, load
from ohlcv_collector.observability.logs import configure_json_logging

# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class FullonLogHandler(logging.Handler):
    """Forwards standard-library log records to fullon_log's component loggers."""

    def __init__(self) -> None:
        super().__init__()
        self._fullon_log = load("fullon_log")
        self._loggers: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        name = f"fullon.ohlcv.{record.name.removeprefix('ohlcv_collector.')}"
        if name not in self._loggers:
            self._loggers[name] = self._fullon_log.get_component_logger(name)
        context = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        method = getattr(self._loggers[name], record.levelname.lower(), None)
        if method is None:  # a custom level name
            method = self._loggers[name].info
        try:
            method(record.getMessage(), **context)
        except Exception:
            self.handleError(record)


def configure_fullon_logging(*, level: str) -> None:
    """Send the collector's logs to fullon_log at `level`."""
    if available("fullon_cache"):
        load("fullon_cache")  # its import reconfigures fullon_log: let it happen first
    load("fullon_log").configure_logger(console=True, level=level.upper())
    configure_json_logging(level=level)  # levels and quiet libraries as without fullon
    logging.getLogger().handlers = [FullonLogHandler()]
