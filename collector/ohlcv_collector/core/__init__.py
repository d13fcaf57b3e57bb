"""The sans-I/O core: pure functions and state machines, tested without any I/O.

Nothing here imports ccxt, a database driver, Redis or asyncio; adapters feed it
values and carry out what it decides.
"""
