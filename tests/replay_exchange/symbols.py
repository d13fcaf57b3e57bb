"""Market names: ccxt unified symbols and the identifiers each exchange uses for them.

Recorded files name markets the exchange's way (`XBTUSDC`, `BTCUSDT`, `btcusdt`, `BTC-USD`);
everything inside the replay exchange speaks ccxt's unified form (`BTC/USDC`) and converts only
at the wire, so that a file from either exchange can be served by either protocol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Longest first, so that "USDT" is not read as "USD" followed by a stray "T".
_QUOTES = ("USDT", "USDC", "ZUSD", "ZEUR", "BUSD", "USD", "EUR", "GBP", "BTC", "XBT", "ETH")
_CODE_ALIASES = {"XBT": "BTC", "XXBT": "BTC", "ZUSD": "USD", "ZEUR": "EUR", "XETH": "ETH"}

# Kraken's asset ids: legacy assets carry an X (crypto) or Z (fiat) prefix, newer ones do not.
_KRAKEN_ASSETS = {
    "BTC": ("XXBT", "XBT"),
    "ETH": ("XETH", "ETH"),
    "USD": ("ZUSD", "USD"),
    "EUR": ("ZEUR", "EUR"),
    "GBP": ("ZGBP", "GBP"),
}
# Price decimals of Kraken pairs (AssetPairs `pair_decimals`), from the recorded AssetPairs.
_KRAKEN_PAIR_DECIMALS = {"USD": 1, "USDT": 1, "EUR": 1, "GBP": 1, "USDC": 2}


def unified_code(code: str) -> str:
    """ccxt's common currency code for an exchange's asset code (XBT and XXBT are BTC)."""
    upper = code.upper()
    return _CODE_ALIASES.get(upper, upper)


def parse_market_id(market_id: str) -> str | None:
    """The unified symbol for an exchange market id such as XBTUSDC, BTC-USD or btcusdt."""
    text = market_id.upper()
    for separator in ("/", "-", "_"):
        if separator in text:
            base, _, quote = text.partition(separator)
            return _join(base, quote)
    for quote in _QUOTES:
        if text.endswith(quote) and len(text) > len(quote):
            return _join(text[: -len(quote)], quote)
    return None


def symbol_from_filename(name: str) -> str | None:
    """The first token of a file name that reads as a market id, e.g. kraken_XBTUSDC_1m_....csv."""
    stem = name.split(".")[0]
    for token in re.split(r"[_.]", stem):
        if token.isdigit() or len(token) < 5:
            continue
        symbol = parse_market_id(token)
        if symbol is not None:
            return symbol
    return None


def _join(base: str, quote: str) -> str | None:
    if not (base.isalpha() and quote.isalpha() and 2 <= len(base) <= 6):
        return None
    return f"{unified_code(base)}/{unified_code(quote)}"


def base_quote(symbol: str) -> tuple[str, str]:
    base, _, quote = symbol.partition("/")
    return base, quote


def binance_id(symbol: str) -> str:
    """Binance's market id: base and quote run together, BTC/USDT -> BTCUSDT."""
    base, quote = base_quote(symbol)
    return base + quote


@dataclass(frozen=True, slots=True)
class KrakenNames:
    """Every name Kraken gives one pair: REST id and altname, asset ids, v1 and v2 WS names."""

    pair_id: str  # result key of AssetPairs/OHLC/Trades, e.g. XXBTZUSD or XBTUSDT
    altname: str  # e.g. XBTUSD
    wsname: str  # AssetPairs `wsname` (WS v1 naming), e.g. XBT/USD
    ws_v2_symbol: str  # WS v2 naming, which is ccxt's unified symbol, e.g. BTC/USD
    base_asset: str  # e.g. XXBT
    quote_asset: str  # e.g. ZUSD
    base_altname: str
    quote_altname: str
    pair_decimals: int


def kraken_asset(code: str) -> tuple[str, str]:
    """(asset id, altname) of a unified currency code on Kraken."""
    return _KRAKEN_ASSETS.get(code, (code, code))


def kraken_names(symbol: str) -> KrakenNames:
    """Kraken's names for a unified symbol. Legacy X/Z pairs are keyed XXBTZUSD, newer XBTUSDT."""
    base, quote = base_quote(symbol)
    base_asset, base_alt = kraken_asset(base)
    quote_asset, quote_alt = kraken_asset(quote)
    legacy = base_asset != base_alt and quote_asset != quote_alt
    altname = base_alt + quote_alt
    return KrakenNames(
        pair_id=base_asset + quote_asset if legacy else altname,
        altname=altname,
        wsname=f"{base_alt}/{quote_alt}",
        ws_v2_symbol=symbol,
        base_asset=base_asset,
        quote_asset=quote_asset,
        base_altname=base_alt,
        quote_altname=quote_alt,
        pair_decimals=_KRAKEN_PAIR_DECIMALS.get(quote, 5),
    )
