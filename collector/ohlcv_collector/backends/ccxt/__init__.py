"""Built-in market-data backend on ccxt (REST) and ccxt.pro (WebSocket)."""
