"""Stands in for fullon_exchange, which cannot be installed here (private git, Python >= 3.13).

Only `fullon_exchange.queue.ExchangeQueue` and its handlers as fullon-contract.md section 2
documents them. Like the real library it runs on ccxt; the double points ccxt at the
replay exchange given in FULLON_EXCHANGE_DOUBLE_URLS (JSON for ccxt's urls['api']).
"""
