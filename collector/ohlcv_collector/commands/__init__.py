"""Subcommands of ``ohlcv-collector``, one module each.

A module exposes ``register(subparsers)``, which adds its parser and sets
``handler=<function(args) -> exit code>`` on it; ``cli.COMMANDS`` lists the modules.
"""
