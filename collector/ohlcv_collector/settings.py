"""Configuration from the environment, under the names the fullon libraries already use.

A fullon installation's environment (DB_HOST, DB_NAME, DB_OHLCV_NAME, REDIS_HOST, ...)
configures the collector as it is. With no DB_HOST, both databases default to one
embedded SQLite file, so the collector runs anywhere without a server - except where
DB_REQUIRED says a server is mandatory (every Pod the chart and the operator start): there a
Secret that lacks the database settings is an error, never a silent SQLite file in the Pod.
"""

import os
import socket
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Defaults the operator shares (ohlcv_operator.settings): the collectors and the operator
# must read the same user's targets and judge heartbeats stale after the same time.
DEFAULT_USER_MAIL = "admin@fullon"
DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 60.0


def problems(error: ValidationError) -> str:
    """What is wrong with the environment, one clause per problem, without the input values:
    those hold the database and Redis passwords."""
    return "; ".join(
        ": ".join(filter(None, (".".join(str(p) for p in problem["loc"]), problem["msg"])))
        for problem in error.errors(include_url=False, include_input=False)
    )


class DatabaseSettings(BaseSettings):
    """The fullon_orm database (targets) and the OHLCV database (candles and trades)."""

    model_config = SettingsConfigDict(env_prefix="DB_", extra="ignore")

    host: str | None = Field(default=None, description="PostgreSQL host; unset means SQLite")
    uri: SecretStr | None = Field(
        default=None,
        description="postgresql://user:password@host:port/dbname (CloudNativePG's `uri` key);"
        " wins over DB_HOST, DB_PORT, DB_USER, DB_PASSWORD and DB_NAME",
    )
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = (
        None
    )
    sslrootcert: Path | None = Field(
        default=None, description="CA certificate file that verify-ca and verify-full trust"
    )
    required: bool = Field(
        default=False, description="a PostgreSQL server is mandatory: no SQLite fallback"
    )
    port: int = 5432
    user: str = "postgres"
    password: SecretStr = SecretStr("")
    name: str = Field(default="fullon", description="the fullon_orm database")
    ohlcv_name: str | None = Field(
        default=None, description="the OHLCV database; defaults to <DB_NAME>_ohlcv as fullon does"
    )
    sqlite_path: Path = Field(
        default=Path("fullon-ohlcv.sqlite"),
        description="the embedded database file used for both when DB_HOST is unset",
    )

    @model_validator(mode="after")
    def _server_when_required(self) -> Self:
        if self.required and not (self.host or self.uri):
            raise ValueError(
                "DB_REQUIRED is set but neither DB_HOST nor DB_URI is: the database Secret lacks"
                " the database settings (DB_* keys, or map its own keys with the chart's"
                " database.secretKeys); refusing to fall back to SQLite"
            )
        return self

    def _server(self) -> tuple[str, str]:
        """postgresql://credentials@host:port (no database) and the fullon_orm database."""
        if self.uri:
            parts = urlsplit(self.uri.get_secret_value())
            return f"postgresql://{parts.netloc}", parts.path.lstrip("/") or self.name
        password = quote(self.password.get_secret_value(), safe="")
        credentials = f"{quote(self.user, safe='')}:{password}" if password else quote(self.user)
        return f"postgresql://{credentials}@{self.host}:{self.port}", self.name

    def _postgres_url(self, database: str) -> str:
        server, _ = self._server()
        query = dict(parse_qsl(urlsplit(self.uri.get_secret_value()).query)) if self.uri else {}
        if self.sslmode:
            query["sslmode"] = self.sslmode
        if self.sslrootcert:
            query["sslrootcert"] = str(self.sslrootcert)
        suffix = f"?{urlencode(query)}" if query else ""
        return f"{server}/{quote(database, safe='')}{suffix}"

    def targets_url(self) -> str:
        """Where the fullon_orm tables are: postgresql://... or sqlite:///path."""
        if self.host or self.uri:
            return self._postgres_url(self._server()[1])
        return f"sqlite:///{self.sqlite_path.resolve()}"

    def storage_url(self) -> str:
        """Where candles and trades are written: postgresql://... or sqlite:///path."""
        if self.host or self.uri:
            return self._postgres_url(self.ohlcv_name or f"{self._server()[1]}_ohlcv")
        return f"sqlite:///{self.sqlite_path.resolve()}"


class RedisSettings(BaseSettings):
    """The Redis that fullon_cache uses; optional for collecting."""

    model_config = SettingsConfigDict(env_prefix="REDIS_", extra="ignore")

    host: str | None = None
    port: int = 6379
    db: int = Field(default=0, ge=0, le=15)
    username: str | None = Field(default=None, description="an ACL user (Redis 6+)")
    password: SecretStr = SecretStr("")
    ssl: bool = Field(default=False, description="connect with TLS (rediss://)")
    ssl_ca_certs: Path | None = Field(
        default=None, description="CA certificate file the server's certificate must chain to"
    )

    def url(self) -> str | None:
        """redis://... (rediss://... with TLS) or None when Redis is not configured."""
        if not self.host:
            return None
        password = quote(self.password.get_secret_value(), safe="")
        user = quote(self.username, safe="") if self.username else ""
        auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
        query = {"ssl_cert_reqs": "required"} if self.ssl else {}
        if self.ssl and self.ssl_ca_certs:
            query["ssl_ca_certs"] = str(self.ssl_ca_certs)
        suffix = f"?{urlencode(query)}" if query else ""
        scheme = "rediss" if self.ssl else "redis"
        return f"{scheme}://{auth}{self.host}:{self.port}/{self.db}{suffix}"


class CollectorSettings(BaseSettings):
    """Behaviour of one collector process."""

    model_config = SettingsConfigDict(env_prefix="OHLCV_", extra="ignore")

    user_mail: str = Field(
        default=DEFAULT_USER_MAIL,
        validation_alias="ADMIN_MAIL",
        description="the fullon user whose exchanges and symbols are collected",
    )
    targets_refresh_seconds: float = Field(default=30.0, gt=0, le=60)
    batch_max_rows: int = Field(default=5000, ge=1)
    batch_max_seconds: float = Field(default=1.0, gt=0, le=1.0)
    buffer_max_rows: int = Field(default=200_000, ge=1)
    http_host: str = Field(
        default="0.0.0.0",  # noqa: S104 - in a pod, kubelet probes the pod's IP
        description="address of /healthz, /readyz and /metrics",
    )
    http_port: int = Field(default=8080, ge=0, le=65535, description="/healthz, /readyz, /metrics")
    ccxt_urls: dict[str, Any] = Field(
        default_factory=dict,
        description="JSON merged into the ccxt exchange's urls['api'] (e.g. a replay exchange)",
    )
    ccxt_urls_by_exchange: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per exchange id, JSON merged into its urls['api']; wins over ccxt_urls "
        "(one setting for every collector Deployment, e.g. the chart's collector.env)",
    )
    ccxt_options: dict[str, Any] = Field(
        default_factory=dict, description="JSON merged into the ccxt exchange's constructor config"
    )
    instance: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        min_length=1,
        description="this process's name among its exchange's replicas (the pod name)",
    )
    repair_interval_seconds: float = Field(
        default=60.0, gt=0, description="seconds between hole checks (run --repair-interval wins)"
    )
    heartbeat_seconds: float = Field(
        default=10.0, gt=0, le=15, description="how often health records are rewritten"
    )
    heartbeat_timeout_seconds: float = Field(
        default=DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
        gt=0,
        description="longest time a symbol of a silent (crashed) replica stays without owner;"
        " the operator judges records stale after its own OHLCV_HEARTBEAT_TIMEOUT_SECONDS"
        " (ohlcv_operator.settings, same default), which must be the same",
    )

    @model_validator(mode="after")
    def _handover_fits_the_timeout(self) -> Self:
        """A silent replica is dropped after timeout - refresh, and its symbols start at the
        next targets refresh, so the handover ends within the timeout; the replica must have
        missed at least two heartbeats by then, or a slow one would lose its symbols."""
        if (
            self.targets_refresh_seconds + 2 * self.heartbeat_seconds
            > self.heartbeat_timeout_seconds
        ):
            raise ValueError(
                "heartbeat_timeout_seconds must be at least targets_refresh_seconds"
                " + 2 * heartbeat_seconds"
            )
        return self

    def member_timeout_seconds(self) -> float:
        """How long a replica may be silent before its symbols are taken over."""
        return self.heartbeat_timeout_seconds - self.targets_refresh_seconds
