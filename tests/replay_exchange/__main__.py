"""`python -m tests.replay_exchange`: the standalone replay exchange (see cli.py)."""

import sys

from tests.replay_exchange.cli import main

sys.exit(main())
