"""What the collector learns about an exchange from ccxt (pinned 4.5.90) itself, never from the
exchange's name: page sizes from `features` (swaps where there is no spot), and which failures
mean "this request cannot be answered at all" rather than "try again"."""

import ccxt
import ccxt.pro
import pytest

from ohlcv_collector.backends.ccxt.client import build_exchange, capabilities_of, translate
from ohlcv_collector.ports import (
    ExchangeUnavailableError,
    SymbolUnavailableError,
    UnsupportedRequestError,
)


@pytest.mark.parametrize(
    ("exchange_id", "page"), [("binance", 1000), ("kraken", 720), ("hyperliquid", 5000)]
)
def test_candle_page_size_is_ccxts_feature(exchange_id: str, page: int) -> None:
    exchange = build_exchange(exchange_id=exchange_id, options={}, urls={})
    capabilities = capabilities_of(exchange)
    assert capabilities.candle_page_limit == page
    assert capabilities.stream_trades
    assert capabilities.stream_candles


def test_a_request_ccxt_cannot_make_is_unsupported_not_retried() -> None:
    exchange = ccxt.pro.hyperliquid()
    unsupported = translate(ccxt.ArgumentsRequired("requires a user"), exchange=exchange)
    assert isinstance(unsupported, UnsupportedRequestError)
    assert isinstance(
        translate(ccxt.NotSupported("no"), exchange=exchange), UnsupportedRequestError
    )
    assert isinstance(translate(ccxt.BadSymbol("x"), exchange=exchange), SymbolUnavailableError)
    assert isinstance(
        translate(ccxt.NetworkError("x"), exchange=exchange), ExchangeUnavailableError
    )
