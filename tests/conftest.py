"""Test suite set-up: the harness plugins that start real services per session."""

pytest_plugins = [
    "tests.harness.services",
    "tests.harness.kubernetes",
    "tests.replay_exchange.fixtures",
]
