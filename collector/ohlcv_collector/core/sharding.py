"""Which replica collects which symbol: rendezvous (highest random weight) hashing.

Every replica of an exchange sees the same live members in the health heartbeats and
computes the same answer on its own, so no coordinator and no configuration is needed.
Each symbol goes to the member with the highest hash of (member, symbol); when a member
joins it takes from each other member only the symbols it now wins, and when one leaves
only its own symbols move, each to its runner-up. That is the least movement any
assignment can have, and it is why a handover touches only the affected symbols.

The hash is BLAKE2b, not Python's `hash()`, which is salted per process and would make
replicas disagree.
"""

import hashlib
from collections.abc import Collection, Iterable

_DIGEST_BYTES = 8


def weight(*, member: str, symbol: str) -> int:
    """The rendezvous weight of `symbol` on `member`: stable across processes and versions."""
    # A NUL separator keeps ("ab", "c") and ("a", "bc") apart.
    data = f"{member}\x00{symbol}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=_DIGEST_BYTES).digest(), "big")


def owner(*, symbol: str, members: Iterable[str]) -> str:
    """The member that collects `symbol`; ties (astronomically rare) go to the smaller name."""
    candidates = set(members)
    if not candidates:
        raise ValueError("a symbol needs at least one member to own it")
    return max(sorted(candidates), key=lambda member: weight(member=member, symbol=symbol))


def assign(*, symbols: Collection[str], members: Collection[str], me: str) -> set[str]:
    """The symbols that `me` collects among `members`; `me` always counts as a member."""
    everyone = {*members, me}
    return {symbol for symbol in symbols if owner(symbol=symbol, members=everyone) == me}
