"""Test suite set-up: the harness plugins that start real services per session, and how
`make test` spreads the tests over pytest-xdist workers.

Each worker has its own PostgreSQL, Redis and control plane (every server takes a free
port), so any test can run on any worker, except two sets that are each one unit of work
on one worker: the tests under tests/node share the one real node (kubelet, containerd and
the CNI bridge on the run's network namespace, of which there can be only one), and the
tests under tests/bench share one quick benchmark run (minutes), which each worker running
some of them would repeat.
"""

from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

pytest_plugins = [
    "tests.harness.services",
    "tests.harness.kubernetes",
    "tests.harness.cluster",
    "tests.replay_exchange.fixtures",
    "tests.integration.fullon_doubles",
]

# Directories whose tests are one unit of work each (see the module docstring).
_TOGETHER = ("tests/node/", "tests/bench/")


class SharedSetUpTogether(LoadScopeScheduling):  # type: ignore[misc]  # xdist has no types
    """Every test is its own unit of work, except the tests of each `_TOGETHER` directory.

    xdist's own `--dist loadgroup` cannot be used: it groups by a suffix it writes into
    each test's node id, which pytest 9 no longer lets it change. Larger units go first
    (xdist's default reordering), so the node's tests start at once and the other workers
    fill in around them.
    """

    def _split_scope(self, nodeid: str) -> str:
        return next((path for path in _TOGETHER if nodeid.startswith(path)), nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> SharedSetUpTogether:
    """The scheduler of every `pytest -n N` run."""
    return SharedSetUpTogether(config, log)
