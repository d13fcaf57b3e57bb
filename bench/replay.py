"""The replay exchange as the benchmarks run it: its own process, one recording served as
many markets, and a count of every REST answer.

The recorded data holds one Binance trade stream (BTC/USDT, 2024) and one candle series per
pair, while the scenarios need 1 to 500 symbols. Each extra symbol is the same recording under
another name (BAAA/USDT, BAAB/USDT, ...): the same trades at the same times, so the offered
rate grows with the number of symbols and every symbol has the same ground truth. The clones
share the recording's tuples, so 500 of them cost little memory in the replay process.

    python -m bench.replay --exchange binance --symbols 100 --data FILE [--data FILE] \
        [--speed F] [--start ISO] [--rate-limits] [--tls-dir DIR]

It prints the standalone server's "listening" line, serves until SIGTERM, and answers
GET /bench/stats: REST calls by status, the Binance request weight used (summed from its
X-MBX-USED-WEIGHT-1M header, set when the limits are on), Kraken's refusals, and when the
first candle request came (a backfill's start).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import ssl
import string
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from itertools import product
from pathlib import Path

from aiohttp import web

from tests.harness.certs import CertificateAuthority
from tests.replay_exchange.binance.payloads import ENDPOINT_WEIGHTS, kline_row
from tests.replay_exchange.cli import config_from, parser, serve_until_signalled
from tests.replay_exchange.markets import Market
from tests.replay_exchange.server import ReplayServer

_KRAKEN_REFUSAL = "EAPI:Rate limit exceeded"
_CANDLE_PATHS = ("/klines", "/OHLC")


def symbol_names(count: int, *, quote: str) -> list[str]:
    """`count` distinct market names that both exchanges' symbol parsers read back."""
    bases = ("B" + "".join(letters) for letters in product(string.ascii_uppercase, repeat=3))
    return [f"{base}/{quote}" for base, _ in zip(bases, range(count), strict=False)]


def cloned(market: Market, *, symbol: str) -> Market:
    """The same recording under another name; derived lists are shared, not rebuilt."""
    clone = dataclasses.replace(market, symbol=symbol)
    for name in ("trade_times", "trade_ids", "agg_times"):
        clone.__dict__[name] = getattr(market, name)
    return clone


class BenchReplay(ReplayServer):
    """A `ReplayServer` serving `count` copies of its one market and counting REST answers."""

    def __init__(self, *, count: int, tls_dir: Path | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.tls_dir = tls_dir
        self.tls_port: int | None = None
        exchange = self.exchange
        [(source, market)] = exchange.markets.items()
        names = symbol_names(count, quote=source.split("/")[1])
        exchange.markets = {name: cloned(market, symbol=name) for name in names}
        exchange.offsets_ms = dict.fromkeys(names, exchange.offsets_ms[source])
        if exchange.name == "binance":
            # Each kline row rendered now, before the figures' CPU is counted: rendering one
            # takes about 9 ms a page of 1,000, which made one symbol's backfill wait on the
            # replay (0.2 of its 0.23 s of CPU per 15 pages), ccxt alone's as much as ours.
            for candle in market.candles:
                kline_row(candle)
        self.calls: Counter[str] = Counter()
        self.weight_used = 0  # Binance's request weight of every call, as the replay charges it
        self.kraken_refusals = 0
        self.first_candle_call: float | None = None  # wall time of the first candle request

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen as the standalone server does; with a TLS directory, also on a wss:// port
        with a throwaway certificate (its CA written there as ca.crt for clients to trust)."""
        await super().start(host=host, port=port)
        if self.tls_dir is None or self._runner is None:
            return
        self.tls_dir.mkdir(parents=True, exist_ok=True)
        pair = CertificateAuthority(directory=self.tls_dir).issue(
            name="replay", common_name="127.0.0.1", server=True
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pair.cert, pair.key)
        await web.TCPSite(self._runner, host, 0, ssl_context=context).start()
        self.tls_port = int(self._runner.addresses[-1][1])

    def application(self) -> web.Application:
        app = super().application()
        app.middlewares.append(self._count)
        app.router.add_get("/bench/stats", self._stats)
        return app

    @web.middleware
    async def _count(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        if request.path.startswith(("/api/", "/0/public/")):
            self.calls[str(response.status)] += 1
            if self.first_candle_call is None and request.path.endswith(_CANDLE_PATHS):
                self.first_candle_call = time.time()
            if request.path.startswith("/api/v3/"):
                # Summed per call from the table the replay charges by, not read back from the
                # X-MBX-USED-WEIGHT-1M header: answers overtake each other, so the header's
                # per-minute count cannot be told apart from a new minute's.
                self.weight_used += ENDPOINT_WEIGHTS.get(request.path.rsplit("/", 1)[-1], 1)
            body = getattr(response, "text", None)
            if isinstance(body, str) and _KRAKEN_REFUSAL in body:
                self.kraken_refusals += 1
        return response

    async def _stats(self, _request: web.Request) -> web.Response:
        state = self.exchange.state()
        return web.json_response(
            {
                "calls": dict(self.calls),
                "binance_weight_used": self.weight_used,
                "kraken_refusals": self.kraken_refusals,
                "first_candle_call": self.first_candle_call,
                "now_ms": state["now_ms"],
                "started_ms": state["started_ms"],
                "speed": state["speed"],
                "websockets": len(self.connections),
            }
        )


async def serve(server: BenchReplay, *, host: str, port: int) -> None:
    await server.start(host=host, port=port)
    listening = {"event": "listening", "port": server.port, "ccxt_urls": server.ccxt_urls(),
                 "tls_port": server.tls_port}  # fmt: skip
    print(json.dumps(listening), flush=True)
    await serve_until_signalled(server)


def main() -> None:
    cli = parser()
    cli.prog = "python -m bench.replay"
    cli.add_argument("--symbols", type=int, default=1, help="how many copies of the market")
    cli.add_argument("--tls-dir", type=Path, help="also serve wss://, its CA written here")
    arguments = cli.parse_args()
    server = BenchReplay(
        count=arguments.symbols, tls_dir=arguments.tls_dir, config=config_from(arguments)
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(server, host=arguments.host, port=arguments.port))


if __name__ == "__main__":
    main()
