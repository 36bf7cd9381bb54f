"""Settings are validated at start; production refuses development secrets."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from vigil.settings import (
    DEV_AUDIT_SIGNING_KEY,
    DEV_MASTER_KEYS,
    DEV_SECRET_KEY,
    Settings,
    parse_master_keys,
)


def real_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_defaults_are_the_embedded_sqlite_database_under_var() -> None:
    settings = Settings()
    assert settings.database_url == "sqlite:///var/vigil.db"
    assert str(settings.data_dir) == "var"


def production(**overrides: str) -> Settings:
    values = {
        "secret_key": "s" * 40,
        "master_keys": f"p1={real_key()}",
        "audit_signing_key": real_key(),
    } | overrides
    return Settings(environment="production", **values)


def test_production_refuses_development_secret_key() -> None:
    with pytest.raises(ValidationError, match="development VIGIL_SECRET_KEY"):
        production(secret_key=DEV_SECRET_KEY)


def test_production_refuses_development_master_keys() -> None:
    with pytest.raises(ValidationError, match="development VIGIL_MASTER_KEYS"):
        production(master_keys=DEV_MASTER_KEYS)


def test_production_refuses_development_audit_signing_key() -> None:
    with pytest.raises(ValidationError, match="development VIGIL_AUDIT_SIGNING_KEY"):
        production(audit_signing_key=DEV_AUDIT_SIGNING_KEY)


def test_production_starts_with_real_secrets() -> None:
    assert production().current_key_id == "p1"


def test_environment_variables_are_read_with_the_vigil_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_PUBLIC_RATE_LIMIT", "7")
    monkeypatch.setenv("VIGIL_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    settings = Settings()
    assert settings.public_rate_limit == 7 and not settings.is_sqlite


def test_bad_values_are_refused_with_the_setting_named() -> None:
    with pytest.raises(ValidationError, match="public_rate_limit"):
        Settings(public_rate_limit=-1)
    with pytest.raises(ValidationError, match="32 bytes"):
        Settings(master_keys="k=" + base64.b64encode(b"short").decode())
    with pytest.raises(ValidationError, match="not in VIGIL_MASTER_KEYS"):
        Settings(master_key_id="missing")


def test_master_keys_keep_their_order() -> None:
    keys = parse_master_keys(f"b={real_key()}, a={real_key()}")
    assert list(keys) == ["b", "a"]
