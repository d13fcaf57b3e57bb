"""Rendezvous hashing: every symbol has exactly one owner, and membership changes move little."""

import subprocess
import sys

import pytest

from ohlcv_collector.core.sharding import assign, owner, weight

SYMBOLS = [f"C{i:03d}/USDT" for i in range(400)]


def split(members: list[str]) -> dict[str, set[str]]:
    return {m: assign(symbols=SYMBOLS, members=members, me=m) for m in members}


def moved(before: dict[str, set[str]], after: dict[str, set[str]]) -> set[str]:
    owner_before = {s: m for m, owned in before.items() for s in owned}
    owner_after = {s: m for m, owned in after.items() for s in owned}
    return {s for s in SYMBOLS if owner_before[s] != owner_after[s]}


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_every_symbol_has_exactly_one_owner(count: int) -> None:
    members = [f"pod-{i}" for i in range(count)]
    shares = split(members)
    assert sorted(s for owned in shares.values() for s in owned) == sorted(SYMBOLS)


def test_a_lone_collector_takes_everything_and_me_always_counts() -> None:
    assert assign(symbols=SYMBOLS, members=[], me="pod-0") == set(SYMBOLS)
    assert (
        assign(symbols=SYMBOLS, members=["pod-1"], me="pod-0") == split(["pod-0", "pod-1"])["pod-0"]
    )


def test_joining_moves_only_the_symbols_the_newcomer_takes() -> None:
    before = split(["pod-0", "pod-1", "pod-2"])
    after = split(["pod-0", "pod-1", "pod-2", "pod-3"])
    assert moved(before, after) == after["pod-3"]
    # The ideal is 1/4 of the symbols; rendezvous hashing stays close to it.
    assert 0.18 * len(SYMBOLS) <= len(after["pod-3"]) <= 0.32 * len(SYMBOLS)


def test_leaving_moves_only_the_leavers_symbols() -> None:
    before = split(["pod-0", "pod-1", "pod-2", "pod-3"])
    after = split(["pod-0", "pod-1", "pod-3"])
    assert moved(before, after) == before["pod-2"]
    for member in after:
        assert before[member] <= after[member]


def test_shares_are_balanced_within_reason() -> None:
    shares = split([f"collector-{i}" for i in range(5)])
    sizes = [len(owned) for owned in shares.values()]
    # 400 symbols over 5 members: 80 each on average; binomial spread is about +-8.
    assert min(sizes) >= 55
    assert max(sizes) <= 105


def test_the_member_list_order_and_duplicates_do_not_matter() -> None:
    one = assign(symbols=SYMBOLS, members=["a", "b", "c"], me="b")
    other = assign(symbols=SYMBOLS, members=["c", "b", "a", "a"], me="b")
    assert one == other


def test_weights_are_the_same_in_another_process() -> None:
    """Python's hash() is salted per process; replicas must agree, so the hash must not be."""
    code = "from ohlcv_collector.core.sharding import weight; print(weight(member='a', symbol='B'))"
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert int(other.stdout) == weight(member="a", symbol="B")


def test_the_separator_keeps_member_and_symbol_apart() -> None:
    assert weight(member="ab", symbol="c") != weight(member="a", symbol="bc")


def test_owner_needs_a_member() -> None:
    with pytest.raises(ValueError, match="at least one member"):
        owner(symbol="BTC/USDT", members=[])
