"""The running collector: asyncio tasks that drive the core through the ports."""
