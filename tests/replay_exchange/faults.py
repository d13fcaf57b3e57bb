"""The fault plan of a run, and the pure decisions that carry it out.

Every fault is off by default and chosen per run, by command-line flags or `POST /admin/faults`.
Counted faults ("every N-th") are deterministic so that a test knows which message is hit:
REST faults count the server's answers, WebSocket faults count one connection's data frames.

- truncated: the JSON cut in half, which no parser accepts (ccxt's WS receive loop dies on it).
- malformed: the body or frame replaced by a non-JSON error page, as a misbehaving proxy sends.
- duplicated / out-of-order trades: a trade frame sent twice, or swapped with the next one.
- 5xx bursts: every `http_5xx_every_s` wall seconds (or on demand) the next
  `http_5xx_burst` REST calls fail with `http_5xx_status`.
- delistings: (symbol, exchange seconds after start); see the server for what changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.replay_exchange.ratelimits import RateLimitSettings

Item = TypeVar("Item")

MALFORMED_BODY = "<html><head><title>502 Bad Gateway</title></head><body>bad gateway</body></html>"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What goes wrong during a run. None (or False) switches a fault off."""

    ws_close_every_s: float | None = None
    http_5xx_every_s: float | None = None
    http_5xx_burst: int = 3
    http_5xx_status: int = 503
    rest_latency_s: float | None = None  # every REST answer this late: a distant exchange
    rest_truncate_every: int | None = None
    rest_malformed_every: int | None = None
    ws_truncate_every: int | None = None
    ws_malformed_every: int | None = None
    ws_duplicate_every: int | None = None
    ws_reorder_every: int | None = None
    rate_limits: bool = False
    limits: RateLimitSettings = field(default_factory=RateLimitSettings)
    delistings: tuple[tuple[str, float], ...] = ()

    def updated(self, changes: Mapping[str, Any]) -> FaultPlan:
        """This plan with the admin endpoint's JSON applied; rate-limit keys may be top level."""
        plan_fields = {f.name for f in dataclasses.fields(self)} - {"limits", "delistings"}
        limit_fields = {f.name for f in dataclasses.fields(RateLimitSettings)}
        unknown = set(changes) - plan_fields - limit_fields
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        limits = dataclasses.replace(
            self.limits, **{k: v for k, v in changes.items() if k in limit_fields}
        )
        own = {k: v for k, v in changes.items() if k in plan_fields}
        return dataclasses.replace(self, limits=limits, **own)

    def as_json(self) -> dict[str, Any]:
        flat = dataclasses.asdict(self)
        flat.update(flat.pop("limits"))
        flat["delistings"] = [{"symbol": s, "after_s": a} for s, a in self.delistings]
        return flat


def is_every(count: int, every: int | None) -> bool:
    """Whether the `count`-th item (1-based) is hit by an every-N fault."""
    return every is not None and every > 0 and count % every == 0


def truncated(text: str) -> str:
    return text[: len(text) // 2]


@dataclass(slots=True)
class HttpFaults:
    """Per-server REST fault state: the 5xx burst schedule and the answer counter."""

    plan: FaultPlan
    burst_remaining: int = 0
    next_burst_s: float | None = None
    answers: int = 0

    def start_burst(self, *, calls: int) -> None:
        self.burst_remaining += calls

    def failure_status(self, *, now_s: float) -> int | None:
        """The 5xx status this call fails with, if it falls in a burst."""
        every = self.plan.http_5xx_every_s
        if every:
            if self.next_burst_s is None:
                self.next_burst_s = now_s + every
            elif now_s >= self.next_burst_s:
                self.start_burst(calls=self.plan.http_5xx_burst)
                self.next_burst_s = now_s + every
        if self.burst_remaining <= 0:
            return None
        self.burst_remaining -= 1
        return self.plan.http_5xx_status

    def body(self, text: str) -> str:
        """The body actually sent for the next successful answer."""
        self.answers += 1
        if is_every(self.answers, self.plan.rest_malformed_every):
            return MALFORMED_BODY
        if is_every(self.answers, self.plan.rest_truncate_every):
            return truncated(text)
        return text


@dataclass(slots=True)
class FrameFaults:
    """Per-connection WebSocket fault state: data frame and trade counters."""

    plan: FaultPlan
    frames: int = 0
    trades: int = 0
    _held: list[Any] = field(default_factory=list)

    def frame(self, text: str) -> str:
        """The text actually sent for the next data frame."""
        self.frames += 1
        if is_every(self.frames, self.plan.ws_malformed_every):
            return MALFORMED_BODY
        if is_every(self.frames, self.plan.ws_truncate_every):
            return truncated(text)
        return text

    def trade_frames(self, frames: Sequence[Item]) -> list[Item]:
        """Trade frames in sending order, with the duplicate and reorder faults applied.

        A reordered frame is held back and sent after the next one, even across calls.
        """
        ordered: list[Item] = []
        for frame in frames:
            self.trades += 1
            if is_every(self.trades, self.plan.ws_reorder_every):
                self._held.append(frame)
                continue
            ordered.append(frame)
            if is_every(self.trades, self.plan.ws_duplicate_every):
                ordered.append(frame)
            ordered.extend(self._held)
            self._held.clear()
        return ordered
