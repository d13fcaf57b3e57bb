"""Typed records of recorded market data, shared by every layer of the replay exchange.

Prices and amounts are `Decimal` so that what is served, what the ground truth reports and what
the recording holds are the same numbers; floats would make a row-by-row comparison fuzzy.
Times are integers: trades in nanoseconds (Kraken stamps trades finer than a millisecond and its
`last` cursor is in nanoseconds), candles by the millisecond at which their minute opens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

MINUTE_MS = 60_000
EIGHT_PLACES = Decimal("1e-8")  # both exchanges serve prices and amounts with 8 places at most
NS_PER_MS = 1_000_000

Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]


class SourceKind(Enum):
    """The recorded file formats the loader understands (data README sections 1 and 2)."""

    CANDLE_CSV = "candle-csv"  # Binance.US klines, Kraken "fromtrades", any headered 1m CSV
    KRAKEN_OHLCVT_CSV = "kraken-ohlcvt-csv"  # Kraken's official download, no header row
    KRAKEN_TRADES_JSON = "kraken-trades-json"  # body of GET /0/public/Trades
    KRAKEN_OHLC_JSON = "kraken-ohlc-json"  # body of GET /0/public/OHLC
    BINANCE_WS_CAPTURE = "binance-ws-capture"  # gzip lines "<recv ns> <raw frame>"
    BITMEX_TRADES_JSON = "bitmex-trades-json"  # gzip body of GET /api/v1/trade
    BITMEX_BUCKETED_JSON = "bitmex-bucketed-json"  # gzip body of GET /api/v1/trade/bucketed
    HYPERLIQUID_WS_CAPTURE = "hyperliquid-ws-capture"  # gzip lines "<recv ns> <ws frame>"


@dataclass(frozen=True, slots=True)
class Trade:
    """One exchange trade; `side` is the taker's side, as every exchange here reports it.

    `trade_id` orders trades and pages by id (Binance `fromId`). Where the exchange's own id is
    not a sequence number (BitMEX's trdMatchID UUID, Hyperliquid's scattered `tid`) it is kept
    in `exchange_id`, and `trade_id` is only the trade's position in the merged recording.
    `extra` holds recorded fields served verbatim that no other exchange has.
    """

    trade_id: int
    time_ns: int
    price: Decimal
    amount: Decimal
    side: Side
    order_type: OrderType | None = None  # Kraken records it, Binance does not
    exchange_id: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def time_ms(self) -> int:
        return self.time_ns // NS_PER_MS


def recorded_trade_id(trade: Trade) -> str:
    """The id the recording gives the trade, which the exchange publishes and ccxt reports
    (an exchange may publish another: Venue.published_trade_id)."""
    return trade.exchange_id if trade.exchange_id is not None else str(trade.trade_id)


@dataclass(frozen=True, slots=True)
class Candle:
    """A one-minute candle. Fields the recording does not hold are None, never guessed."""

    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trade_count: int | None = None
    quote_volume: Decimal | None = None
    taker_buy_volume: Decimal | None = None
    taker_buy_quote_volume: Decimal | None = None
    vwap: Decimal | None = None
    first_trade_id: int | None = None
    last_trade_id: int | None = None
    extra: tuple[tuple[str, Any], ...] = ()  # recorded fields only one exchange has

    @property
    def is_empty(self) -> bool:
        """A minute in which nothing traded (Binance sends it, Kraken's files omit it)."""
        return self.volume == 0


@dataclass(frozen=True, slots=True)
class AggTrade:
    """Binance's aggregate trade: consecutive fills at one price, time and taker side."""

    agg_id: int
    first_trade_id: int
    last_trade_id: int
    time_ns: int
    price: Decimal
    amount: Decimal
    side: Side

    @property
    def time_ms(self) -> int:
        return self.time_ns // NS_PER_MS


@dataclass(frozen=True, slots=True)
class RecordedSeries:
    """What one file holds for one market, in recorded time, before markets are assembled."""

    symbol: str  # ccxt unified, e.g. "BTC/USDT"
    kind: SourceKind
    source: str
    trades: tuple[Trade, ...] = ()
    candles: tuple[Candle, ...] = ()


@dataclass(frozen=True, slots=True)
class CandleRules:
    """How the exchange builds its candles, where exchanges differ (Venue.candle_rules).

    `open_is_previous_close`: BitMEX opens each bin at the previous bin's close, not at the bin's
    first trade (so its high and low may exclude its open).
    """

    open_is_previous_close: bool = False


PLAIN_CANDLES = CandleRules()


def minute_floor(ms: int) -> int:
    """The open time of the minute containing `ms`."""
    return ms - ms % MINUTE_MS


@dataclass(frozen=True, slots=True)
class Reply:
    """An exchange answer before it meets the wire: JSON-able body, HTTP status, headers."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A REST path, its name for rate limiting, and its pure answer(params=..., moment=...).

    GET endpoints get the query string as params; POST endpoints (Hyperliquid's /info) the JSON
    body, or {} when the body is not a JSON object.
    """

    path: str
    name: str
    answer: Callable[..., Reply]
    method: str = "GET"


class ExchangeRefusalError(Exception):
    """An error the exchange answers in its own words (Binance -1121, Kraken EQuery, BitMEX
    `{"error": ...}`): an ordinary answer of the exchange, not a fault of the replay."""

    def reply(self) -> Reply:
        """The answer in the exchange's own format: each exchange's refusal defines it."""
        raise NotImplementedError


def decimal_text(value: Decimal, *, places: int) -> str:
    """`value` with at least `places` decimals (the exchange's format) but never rounded."""
    exponent = value.normalize().as_tuple().exponent
    needed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return f"{value:.{max(places, needed)}f}"


def canonical_text(value: Decimal) -> str:
    """The shortest exact decimal text (no exponent, no trailing zeros), for ground truth."""
    return f"{value.normalize():f}"
