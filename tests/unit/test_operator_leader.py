"""Who acts among several operator replicas: the Lease decision, as client-go makes it."""

from typing import Any

import pytest
from pydantic import ValidationError

from ohlcv_operator.leader import Action, Sighting, decide
from ohlcv_operator.settings import OperatorSettings


def lease(holder: str, *, duration: int = 15, renewed: str = "T1") -> dict[str, Any]:
    return {
        "metadata": {"resourceVersion": "7"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "renewTime": renewed},
    }


def test_no_lease_is_created_and_our_own_is_renewed() -> None:
    assert decide(lease=None, identity="a", seen=None, now=0.0) is Action.CREATE
    assert decide(lease=lease("a"), identity="a", seen=None, now=0.0) is Action.RENEW


def test_a_live_holder_is_waited_for_until_its_lease_ran_out_on_our_clock() -> None:
    seen = Sighting(holder="b", renew_time="T1", at=100.0)
    assert decide(lease=lease("b"), identity="a", seen=seen, now=110.0) is Action.WAIT
    assert decide(lease=lease("b"), identity="a", seen=seen, now=115.0) is Action.WAIT
    assert decide(lease=lease("b"), identity="a", seen=seen, now=115.5) is Action.TAKE
    # What another node's clock wrote in renewTime never counts, only how long it has not
    # changed as we saw it: a candidate that just started waits a whole lease first.
    assert decide(lease=lease("b"), identity="a", seen=None, now=1e9) is Action.WAIT
    other = Sighting(holder="c", renew_time="T1", at=0.0)
    assert decide(lease=lease("b"), identity="a", seen=other, now=1e9) is Action.WAIT


def test_a_released_lease_is_taken_at_once() -> None:
    assert decide(lease=lease(""), identity="a", seen=None, now=0.0) is Action.TAKE


def test_the_leader_renews_before_a_standby_may_take_over() -> None:
    with pytest.raises(ValidationError, match="leader_retry_seconds must be shorter"):
        OperatorSettings(leader_lease_seconds=5, leader_retry_seconds=5)
