"""ccxt's packages with each exchange class imported when it is first named.

`import ccxt.pro` runs three `__init__` files that import every exchange ccxt has: about
190 modules, 109 MB of resident memory before the first request (ccxt issue 29573, open
as of 4.5.90). A collector serves one exchange, and the operator only needs the list of
ids. `install()` builds those three packages from ccxt's own `__init__` source, leaving
out only the lines that import an exchange class. Everything else in them (errors,
`Exchange`, `Precise`, `exchanges`, `__version__`, `__all__`) runs unchanged. Naming an
exchange (`ccxt.pro.binance`, `from ccxt import kraken`) imports its module then, and the
package binds the class to that name, as the eager `__init__` would have.
"""

import ast
import importlib
import importlib.util
import sys
import types
from typing import Any

PACKAGES = ("ccxt", "ccxt.async_support", "ccxt.pro")


class LazyExchangePackage(types.ModuleType):
    """A ccxt package whose exchange attributes are exchange classes, imported on demand."""

    def __getattr__(self, name: str) -> Any:
        if name in self.__dict__.get("exchanges", ()):
            importlib.import_module(f"{self.__name__}.{name}")
            return self.__dict__[name]
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        # Importing `ccxt.pro.binance` binds the module to `ccxt.pro`'s attribute `binance`;
        # ccxt's own `from ccxt.pro.binance import binance` rebinds it to the class, and
        # ccxt's exchange modules rely on that (`class binance(ccxt.async_support.binance)`).
        if isinstance(value, types.ModuleType) and name in self.__dict__.get("exchanges", ()):
            value = getattr(value, name, value)
        super().__setattr__(name, value)


def install() -> None:
    """Make ccxt's packages lazy in this process; nothing changes once ccxt is imported
    (the eager packages are then already there) or where ccxt is not installed."""
    if "ccxt" in sys.modules or importlib.util.find_spec("ccxt") is None:
        return
    for name in PACKAGES:
        package = _load(name)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, package)


def _load(name: str) -> LazyExchangePackage:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.origin is None:
        raise ImportError(f"ccxt has no package {name!r}", name=name)
    source = spec.loader.get_source(name)  # type: ignore[attr-defined]
    tree = ast.parse(source, filename=spec.origin)
    tree.body = [node for node in tree.body if not _imports_an_exchange(node, package=name)]
    package = LazyExchangePackage(name)
    package.__spec__, package.__loader__ = spec, spec.loader
    package.__file__, package.__package__ = spec.origin, name
    package.__path__ = list(spec.submodule_search_locations or ())
    sys.modules[name] = package  # before running it: its own imports need the parent
    try:
        exec(compile(tree, spec.origin, "exec"), package.__dict__)  # noqa: S102 - ccxt's own file
    except BaseException:
        del sys.modules[name]
        raise
    return package


def _imports_an_exchange(node: ast.stmt, *, package: str) -> bool:
    """`from <package>.<id> import <id>`: how ccxt's `__init__` files import an exchange."""
    if not isinstance(node, ast.ImportFrom) or node.module is None:
        return False
    parent, _, module = node.module.rpartition(".")
    return parent == package and [alias.name for alias in node.names] == [module]
