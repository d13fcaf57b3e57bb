"""Stands in for fullon_ohlcv, which cannot be installed here (private git, Python >= 3.13).

Only what fullon-contract.md section 3 documents: the Candle and Trade models and the
Candle, Trade and Timeseries repositories, which keep rows in memory (`stored`), keyed by
(test, exchange, symbol), with duplicate rows ignored.
"""
