"""Fixtures the integration tests share.

`backend` and `database` are here once so that every storage, writer and collector test
runs the same way on both backends (SQLite, and PostgreSQL where the postgres mark is
selected).
"""

from pathlib import Path

import pytest

from tests.integration.collector_harness import Database, database_for
from tests.integration.storage_backends import BACKENDS, Backend, backend_for


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The storage backend under test: the test runs once on each."""
    return backend_for(request, tmp_path)


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """The collector's database, by `@pytest.mark.parametrize("database", BACKENDS,
    indirect=True)`: the collector tests say which of their tests run on both."""
    return database_for(request, tmp_path)
