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


def test_no_map_tile_server_by_default() -> None:
    settings = Settings()
    assert settings.map_tile_url == "" and settings.map_tile_origin is None
    assert settings.map_max_points == 2000


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org"),
        ("http://127.0.0.1:8080/osm/{z}/{x}/{y}.png", "http://127.0.0.1:8080"),
        ("https://{s}.Tiles.Example.org/{z}/{x}/{y}{r}.png?key=abc", "https://*.tiles.example.org"),
    ],
)
def test_a_map_tile_url_gives_the_one_origin_the_map_page_may_load_images_from(
    url: str, origin: str
) -> None:
    assert Settings(map_tile_url=url).map_tile_origin == origin


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://tiles.example.org/{z}/{x}/{y}.png", "https:// or http://"),
        ("tiles.example.org/{z}/{x}/{y}.png", "https:// or http://"),
        ("https://tiles.example.org/{z}/{x}.png", "must contain {y}"),
        ("https://tiles.example.org/tile.png", "must contain {z}, {x}, {y}"),
        ("https://tiles.example.org/{z}/{x}/{y}.png; script-src *", "spaces"),
        ("https://tiles.example.org,evil.example/{z}/{x}/{y}", "spaces"),
        ("https://user@tiles.example.org/{z}/{x}/{y}.png", "must name a host"),
        ("https:///{z}/{x}/{y}.png", "must name a host"),
        ("https://a.{s}.example.org/{z}/{x}/{y}.png", "must name a host"),
    ],
)
def test_a_bad_map_tile_url_is_refused_at_start(url: str, reason: str) -> None:
    with pytest.raises(ValidationError, match="map_tile_url") as raised:
        Settings(map_tile_url=url)
    assert reason in str(raised.value)


def test_map_tile_url_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_MAP_TILE_URL", "https://tiles.example.org/{z}/{x}/{y}.png")
    monkeypatch.setenv("VIGIL_MAP_MAX_POINTS", "50")
    settings = Settings()
    assert settings.map_tile_origin == "https://tiles.example.org"
    assert settings.map_max_points == 50
    with pytest.raises(ValidationError, match="map_max_points"):
        Settings(map_max_points=0)
