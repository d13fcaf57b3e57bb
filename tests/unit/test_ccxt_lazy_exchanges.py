"""The collector and the operator import only the ccxt exchanges they name, and ccxt looks
the same to them as if it had imported all of them. Each check runs in a fresh interpreter:
in this one, ccxt may already have been imported whole by another test."""

import json
import subprocess
import sys
from typing import Any

# Every name each ccxt package exports (`__all__`, its exchanges and `Exchange`), as the
# module and qualified name of what it is, and for classes their whole MRO
# (ccxt.pro.binanceus extends ccxt.pro.binance and ccxt.async_support.binanceus, and both
# must be the ones the eager packages give).
DESCRIBE_EXPORTS = """
import json, sys
{prelude}
import ccxt, ccxt.async_support, ccxt.pro

def describe(value):
    if isinstance(value, type):
        return [f"{{c.__module__}}.{{c.__qualname__}}" for c in value.__mro__]
    return f"{{type(value).__module__}}.{{type(value).__qualname__}}"

def public(package):  # ccxt.pro has no __all__
    return set(getattr(package, "__all__", ())) | set(package.exchanges) | {{"Exchange"}}

exports = {{package.__name__: {{name: describe(getattr(package, name)) for name in public(package)}}
           for package in (ccxt, ccxt.async_support, ccxt.pro)}}
for package in (ccxt, ccxt.async_support, ccxt.pro):
    exports[package.__name__]["exchanges"] = sorted(package.exchanges)
    exports[package.__name__]["__version__"] = package.__version__
print(json.dumps(exports))
"""

LAZY = "import ohlcv_collector.backends.ccxt"


def run_python(script: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_a_collector_of_one_exchange_imports_only_that_exchange() -> None:
    loaded = run_python(f"""
import json, sys
{LAZY}
from ohlcv_collector.backends.ccxt.client import build_exchange, exchange_ids
exchange = build_exchange(exchange_id="binance", options={{}}, urls={{}})
import ccxt
ids = set(ccxt.exchanges)
print(json.dumps({{
    "class": type(exchange).__module__,
    "known": len(exchange_ids()),
    "modules": sorted(m for m in sys.modules
                      if m.split(".")[-1] in ids and m.count(".") in (1, 2)
                      and not m.startswith("ccxt.abstract.")),
}}))
""")
    assert loaded["class"] == "ccxt.pro.binance"
    assert loaded["known"] > 100
    assert loaded["modules"] == ["ccxt.async_support.binance", "ccxt.pro.binance"]


def test_the_operator_knows_every_exchange_id_without_importing_one() -> None:
    loaded = run_python("""
import json, sys
from ohlcv_collector.runtime.assembly import market_exchanges
ids = market_exchanges()
import ccxt
print(json.dumps({"ids": sorted(ids), "imported": sorted(
    m for m in sys.modules if m.startswith("ccxt.") and m.split(".")[-1] in set(ccxt.exchanges))}))
""")
    assert {"binance", "kraken", "hyperliquid", "bitmex"} <= set(loaded["ids"])
    assert loaded["imported"] == []


def test_every_name_ccxt_exports_is_what_the_eager_packages_give() -> None:
    eager = run_python(DESCRIBE_EXPORTS.format(prelude=""))
    lazy = run_python(DESCRIBE_EXPORTS.format(prelude=LAZY))
    assert len(eager["ccxt.pro"]["exchanges"]) > 50
    assert lazy == eager
