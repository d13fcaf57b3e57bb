"""Connection settings as Secrets give them: URLs built from DB_* / DB_URI / REDIS_*."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from ohlcv_collector.settings import DatabaseSettings, RedisSettings

CNPG_URI = "postgresql://app:p%40ss@pg-rw.data.svc:5432/app"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DB_HOST", "DB_URI", "DB_NAME", "DB_OHLCV_NAME", "DB_REQUIRED", "REDIS_HOST"):
        monkeypatch.delenv(name, raising=False)


def test_a_cloudnativepg_uri_names_server_credentials_and_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_URI", CNPG_URI)
    settings = DatabaseSettings()
    assert settings.targets_url() == CNPG_URI
    assert settings.storage_url() == "postgresql://app:p%40ss@pg-rw.data.svc:5432/app_ohlcv"
    monkeypatch.setenv("DB_OHLCV_NAME", "candles")
    assert DatabaseSettings().storage_url().endswith("/candles")


def test_tls_options_reach_both_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_HOST", "pg")
    monkeypatch.setenv("DB_SSLMODE", "verify-full")
    monkeypatch.setenv("DB_SSLROOTCERT", "/etc/fullon/tls/postgres/ca.crt")
    settings = DatabaseSettings()
    query = "?sslmode=verify-full&sslrootcert=%2Fetc%2Ffullon%2Ftls%2Fpostgres%2Fca.crt"
    assert settings.targets_url() == f"postgresql://postgres@pg:5432/fullon{query}"
    assert settings.storage_url() == f"postgresql://postgres@pg:5432/fullon_ohlcv{query}"


def test_uri_query_is_kept_and_sslmode_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_URI", f"{CNPG_URI}?sslmode=prefer&application_name=x")
    monkeypatch.setenv("DB_SSLMODE", "require")
    assert DatabaseSettings().targets_url().endswith("/app?sslmode=require&application_name=x")


def test_a_bad_sslmode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_SSLMODE", "sometimes")
    with pytest.raises(ValidationError, match="verify-full"):
        DatabaseSettings()


def test_no_server_in_a_pod_is_an_error_not_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DatabaseSettings().targets_url().startswith("sqlite:///")  # on a laptop: fine
    monkeypatch.setenv("DB_REQUIRED", "true")
    with pytest.raises(ValidationError, match="the database Secret lacks the database settings"):
        DatabaseSettings()
    monkeypatch.setenv("DB_URI", CNPG_URI)
    assert DatabaseSettings().targets_url() == CNPG_URI


@pytest.mark.parametrize(
    ("values", "url"),
    [
        ({}, None),
        ({"host": "r"}, "redis://r:6379/0"),
        ({"host": "r", "password": "p w"}, "redis://:p%20w@r:6379/0"),
        ({"host": "r", "username": "ohlcv", "password": "pw"}, "redis://ohlcv:pw@r:6379/0"),
        ({"host": "r", "username": "ohlcv"}, "redis://ohlcv@r:6379/0"),
        ({"host": "r", "ssl": True}, "rediss://r:6379/0?ssl_cert_reqs=required"),
        (
            {"host": "r", "ssl": True, "ssl_ca_certs": Path("/ca.crt"), "db": 2},
            "rediss://r:6379/2?ssl_cert_reqs=required&ssl_ca_certs=%2Fca.crt",
        ),
    ],
)
def test_redis_url(values: dict[str, object], url: str | None) -> None:
    assert RedisSettings.model_validate(values).url() == url
