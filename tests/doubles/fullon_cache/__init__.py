"""Stands in for fullon_cache, which cannot be installed here (private git, Python >= 3.13).

Only ProcessCache (fullon-contract.md section 4.2), on a real Redis found through
REDIS_HOST / REDIS_PORT / REDIS_DB, with the library's key layout and semantics. Like the
real package, importing it reconfigures fullon_log's logger (section 4.1).
"""

import fullon_log  # type: ignore[import-not-found]  # the double beside this one

from .process_cache import ProcessCache

fullon_log.configure_logger(
    file_path="/tmp/fullon_log/fullon_cache.log", rotation="10 MB", retention="7 days",
    console=True, colors=True, format="beautiful",
)  # fmt: skip

__all__ = ["ProcessCache"]
