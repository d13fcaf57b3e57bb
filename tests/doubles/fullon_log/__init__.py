"""Stands in for fullon_log (not installable here): contract section 5.

`get_component_logger(name)` returns a loguru-style logger whose level methods take a
message and structured kwargs; every call is kept in `records` for tests to read.
`configure_logger` takes only the documented keywords.
"""

from typing import Any

records: list[dict[str, Any]] = []
configured: list[dict[str, Any]] = []


class _Logger:
    def __init__(self, component: str | None) -> None:
        self._component = component

    def _log(self, level: str, message: str, **kwargs: Any) -> None:
        records.append({"component": self._component, "level": level, "message": message,
                        "extra": kwargs})  # fmt: skip

    def debug(self, message: str, **kwargs: Any) -> None:
        self._log("DEBUG", message, **kwargs)

    def info(self, message: str, **kwargs: Any) -> None:
        self._log("INFO", message, **kwargs)

    def warning(self, message: str, **kwargs: Any) -> None:
        self._log("WARNING", message, **kwargs)

    def error(self, message: str, **kwargs: Any) -> None:
        self._log("ERROR", message, **kwargs)

    def critical(self, message: str, **kwargs: Any) -> None:
        self._log("CRITICAL", message, **kwargs)

    def exception(self, message: str, **kwargs: Any) -> None:
        self._log("ERROR", message, **kwargs)


logger = _Logger(None)


def get_component_logger(name: str) -> _Logger:
    return _Logger(name)


def configure_logger(
    file_path: str | None = None,
    console: bool = True,
    level: str = "INFO",
    rotation: str = "100 MB",
    retention: str = "7 days",
    colors: bool = True,
    format: str = "beautiful",
) -> None:
    configured.append({"file_path": file_path, "console": console, "level": level,
                       "format": format})  # fmt: skip
