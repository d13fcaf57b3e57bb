"""Fixtures the integration tests share.

`backend` is here once so that every storage and writer test runs the same way on both
backends (SQLite, and PostgreSQL where the postgres mark is selected).
"""

from pathlib import Path

import pytest

from tests.integration.storage_backends import BACKENDS, Backend, backend_for


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The storage backend under test: the test runs once on each."""
    return backend_for(request, tmp_path)
