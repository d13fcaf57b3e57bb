"""The operator's liveness: alive while the API server answers, not merely while it runs."""

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from ohlcv_collector.observability.http import build_app
from ohlcv_operator.liveness import ApiLiveness, keep_checking


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_silence_beyond_the_limit_is_a_reason() -> None:
    clock = Clock()
    liveness = ApiLiveness(limit_seconds=120, clock=clock)
    clock.now += 120
    assert liveness.problems() == []
    clock.now += 1
    [reason] = liveness.problems()
    assert reason.startswith("no answer from the Kubernetes API for 121 s (limit 120 s)")
    liveness.heard()
    assert liveness.problems() == []


async def test_keep_checking_hears_answers_and_not_failures() -> None:
    clock = Clock()
    liveness = ApiLiveness(limit_seconds=10, clock=clock)
    answers: list[object] = [RuntimeError("refused"), RuntimeError("refused"), "items"]
    before_the_answer: list[list[str]] = []
    answered = asyncio.Event()

    async def list_resources() -> object:
        if not answers:
            await asyncio.Event().wait()  # no more answers until cancelled
        clock.now += 6  # each call takes 6 s
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        before_the_answer.append(liveness.problems())
        answered.set()
        return answer

    task = asyncio.create_task(
        keep_checking(liveness=liveness, list_resources=list_resources, every_seconds=0)
    )
    await asyncio.wait_for(answered.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [[reason]] = before_the_answer  # 18 s without an answer: refusals do not count
    assert "for 18 s (limit 10 s)" in reason
    assert liveness.problems() == []  # the answer was heard


async def test_healthz_says_why_it_is_not_alive() -> None:
    reasons: list[str] = []
    app = build_app(not_ready=list, registry=CollectorRegistry(), not_alive=lambda: reasons)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/healthz")).status == 200
        reasons.append("no answer from the Kubernetes API for 130 s (limit 120 s)")
        response = await client.get("/healthz")
        assert response.status == 503
        assert await response.json() == {"status": "not alive", "reasons": reasons}
