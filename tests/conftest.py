"""Test suite set-up: the harness plugins that start real services per session."""

pytest_plugins = [
    "tests.harness.services",
    "tests.harness.kubernetes",
    "tests.harness.cluster",
    "tests.replay_exchange.fixtures",
    "tests.integration.fullon_doubles",
]
