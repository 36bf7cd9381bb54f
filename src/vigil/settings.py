"""One validated settings object, read from ``VIGIL_*`` environment variables.

Every limit that protects the service (sizes, counts, rates) lives here so that it is
explicit, documented in one place and adjustable without code changes.
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only secrets. They are public (they are in this file), so production refuses them.
DEV_SECRET_KEY = "dev-only-secret-key-not-for-production-use-000000"  # noqa: S105
DEV_AUDIT_SIGNING_KEY = "ZGV2LW9ubHktYXVkaXQtc2lnbmluZy1rZXktMzJieXQ="
DEV_MASTER_KEYS = "dev1=ZGV2LW9ubHktbWFzdGVyLWtleS0zMi1ieXRlcy1hYmM="


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    """Vigil's configuration. Field docs are the configuration table of the README."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

    environment: Environment = Field(
        Environment.development, description="development, test or production"
    )
    database_url: str = Field(
        "sqlite:///var/vigil.db", description="SQLAlchemy URL (sqlite:/// or postgresql://)"
    )
    migration_database_url: str = Field(
        "", description="URL `vigil db upgrade` uses (the schema owner); default VIGIL_DATABASE_URL"
    )
    data_dir: Path = Field(Path("var"), description="Where attachments and local state live")
    secret_key: str = Field(DEV_SECRET_KEY, description="Secret for signing (>= 32 chars)")
    master_keys: str = Field(
        DEV_MASTER_KEYS,
        description="Master keys wrapping reporter-identity data keys: 'id=base64,id2=base64'",
    )
    audit_signing_key: str = Field(
        DEV_AUDIT_SIGNING_KEY,
        description="Ed25519 seed (base64, 32 bytes) signing audit checkpoints",
    )
    audit_checkpoint_interval_s: int = Field(
        3600, ge=10, description="How often a signed audit checkpoint is made (seconds)"
    )
    master_key_id: str = Field(
        "", description="Id of the key used for new wrapping (default: first)"
    )
    public_origin: str = Field(
        "",
        description="The site's origin as browsers see it, e.g. https://vigil.example.org: "
        "the origin and RP id security keys (WebAuthn) are bound to; required for them in "
        "production (development and test use the request's own address)",
    )
    receiving_org: str = Field(
        "National CT Reporting Hub", description="Organisation that receives public reports"
    )
    receiving_team: str = Field(
        "Triage", description="Team of the receiving organisation that sees new reports first"
    )
    report_classification: str = Field(
        "OFFICIAL-SENSITIVE", description="Classification given to new public reports"
    )
    host: str = Field("127.0.0.1", description="Address `vigil serve` binds")
    port: int = Field(8000, ge=1, le=65535, description="Port `vigil serve` binds")
    web_processes: int = Field(
        1,
        ge=1,
        le=64,
        description="Web processes `vigil serve` runs (one per core uses them all; each "
        "in-memory rate limit is shared out between them)",
    )
    log_level: str = Field("info", description="debug, info, warning or error")

    public_rate_limit: int = Field(
        30, ge=0, description="Public submissions per minute per client (0 turns it off)"
    )
    followup_max_failures: int = Field(
        5, ge=1, description="Wrong follow-up codes allowed per reference per window"
    )
    followup_failure_window_s: int = Field(
        900, ge=1, description="Window (seconds) for counting wrong follow-up codes"
    )
    max_json_bytes: int = Field(
        262_144, ge=1024, description="Largest JSON body or `report` part, in bytes"
    )
    max_attachment_bytes: int = Field(
        50 * 1024 * 1024, ge=1, description="Largest single attachment, in bytes"
    )
    max_attachments: int = Field(10, ge=0, description="Most attachments per report or follow-up")
    max_image_pixels: int = Field(
        40_000_000, ge=1, description="Largest image (width x height) accepted"
    )
    max_people: int = Field(20, ge=0, description="Most people in one report")
    max_vehicles: int = Field(20, ge=0, description="Most vehicles in one report")
    max_online: int = Field(50, ge=0, description="Most online items in one report")
    idempotency_ttl_s: int = Field(
        86_400, ge=60, description="How long an Idempotency-Key is remembered (seconds)"
    )
    writer_batch_max: int = Field(
        256, ge=1, description="Most submissions committed together by the writer"
    )
    jobs_in_process: bool = Field(
        True,
        description="Run a pipeline worker inside the web process (`vigil jobs work` runs more)",
    )
    jobs_batch_size: int = Field(
        64, ge=1, le=1000, description="Most jobs a worker claims and runs together"
    )
    jobs_poll_s: float = Field(
        1.0, gt=0, le=60, description="How often an idle worker looks for due jobs (seconds)"
    )
    jobs_lease_s: int = Field(
        120, ge=5, description="How long a claimed job is held before another worker may retry it"
    )
    linkage_model_path: Path | None = Field(
        None,
        description="Trained person-matching model (JSON from `vigil link train`); "
        "empty uses the packaged model",
    )
    linkage_review_floor: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Model matches at or above this probability are kept for a person to review",
    )
    linkage_alert_threshold: float = Field(
        0.95, gt=0, le=1, description="Default match probability that alerts a subject's team"
    )
    linkage_block_cap: int = Field(
        500,
        ge=10,
        description="Largest blocking group read for one key online; larger ones are skipped",
    )
    linkage_import_max_rows: int = Field(
        2_000_000, ge=1, description="Most rows one import file may carry"
    )
    followup_hash_time_cost: int = Field(
        1, ge=1, description="argon2id passes (codes carry 100 bits)"
    )
    followup_hash_memory_kib: int = Field(
        64,
        ge=8,
        description="argon2id memory in KiB (100 random bits, not the hash's cost, stop guessing)",
    )
    form_idle_timeout_s: int = Field(
        7200, ge=60, description="Public answers in progress expire after this idle time (seconds)"
    )
    form_min_fill_s: float = Field(
        3.0, ge=0, description="Quickest plausible human journey (seconds); faster is a bot"
    )
    global_suspect_rate_limit: int = Field(
        120, ge=0, description="Bot-like public submissions per minute, all clients (0 = off)"
    )
    staff_idle_timeout_s: int = Field(
        1800, ge=60, description="A staff session ends after this idle time (seconds)"
    )
    staff_absolute_timeout_s: int = Field(
        43_200, ge=300, description="A staff session ends this long after sign-in (seconds)"
    )
    staff_max_failures: int = Field(
        5, ge=1, description="Failed sign-in attempts (password or code) that lock an account"
    )
    staff_address_max_failures: int = Field(
        20, ge=1, description="Failed sign-in attempts from one client address before refusal"
    )
    staff_failure_window_s: int = Field(
        900, ge=60, description="Window (seconds) for counting failed sign-in attempts"
    )
    staff_lockout_s: int = Field(
        900, ge=60, description="How long a locked account stays locked (s)"
    )
    trust_forwarded_for: bool = Field(
        False, description="Use X-Forwarded-For (only behind a trusted proxy) to identify clients"
    )
    map_tile_url: str = Field(
        "",
        description="Map tile server, e.g. https://tiles.example.org/{z}/{x}/{y}.png "
        "(http or https, with {z}, {x} and {y}; {s} only as the first host label); the map "
        "page may load images from its origin only. Empty: no map, the list of reports only",
    )
    map_tile_attribution: str = Field(
        "", max_length=300, description="Credit for the map tiles, shown on the map (plain text)"
    )
    map_max_points: int = Field(
        2000, ge=1, le=50_000, description="Most reports the map shows (the newest you may see)"
    )
    export_max_reports: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Most reports one API export may hold; more matching is a 422 asking for "
        "narrower dates",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value

    @field_validator("audit_signing_key")
    @classmethod
    def _seed(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError("must be base64") from exc
        if len(raw) != 32:
            raise ValueError(f"must be 32 bytes (an Ed25519 seed), got {len(raw)}")
        return value

    @field_validator("report_classification")
    @classmethod
    def _known_classification(cls, value: str) -> str:
        allowed = ("OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET")
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    @field_validator("map_tile_url")
    @classmethod
    def _tile_url(cls, value: str) -> str:
        value = value.strip()
        if value:
            tile_origin(value)
        return value

    @field_validator("master_keys")
    @classmethod
    def _parse_keys(cls, value: str) -> str:
        parse_master_keys(value)
        return value

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if len(self.secret_key) < 32:
            raise ValueError("VIGIL_SECRET_KEY must be at least 32 characters")
        keys = parse_master_keys(self.master_keys)
        if self.master_key_id and self.master_key_id not in keys:
            raise ValueError(
                f"VIGIL_MASTER_KEY_ID {self.master_key_id!r} is not in VIGIL_MASTER_KEYS"
            )
        if self.environment is Environment.production:
            if self.secret_key == DEV_SECRET_KEY:
                raise ValueError("production refuses the development VIGIL_SECRET_KEY")
            dev_keys = parse_master_keys(DEV_MASTER_KEYS)
            if self.audit_signing_key == DEV_AUDIT_SIGNING_KEY:
                raise ValueError("production refuses the development VIGIL_AUDIT_SIGNING_KEY")
            if any(keys.get(k) == v for k, v in dev_keys.items()) or set(keys.values()) & set(
                dev_keys.values()
            ):
                raise ValueError("production refuses the development VIGIL_MASTER_KEYS")
        return self

    @property
    def keyring(self) -> dict[str, bytes]:
        return parse_master_keys(self.master_keys)

    @property
    def current_key_id(self) -> str:
        return self.master_key_id or next(iter(self.keyring))

    @property
    def audit_seed(self) -> bytes:
        return base64.b64decode(self.audit_signing_key)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def map_tile_origin(self) -> str | None:
        """The CSP source the map page adds to img-src, or None when no tiles are set."""
        return tile_origin(self.map_tile_url) if self.map_tile_url else None

    @property
    def max_multipart_bytes(self) -> int:
        """Whole multipart body: every file at its cap, the JSON part, and framing."""
        return self.max_attachments * self.max_attachment_bytes + self.max_json_bytes + 65_536


_HOST = re.compile(r"^(\{s\}\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")


def tile_origin(url: str) -> str:
    """Check a tile URL template and return its origin as a CSP source expression.

    Tiles are plain images, so the page's policy is widened by exactly one origin for
    img-src. The template must be http(s) with {z}, {x} and {y}; {s} (Leaflet's subdomains)
    may only be the first host label, which becomes the CSP wildcard ``*.``. Nothing that
    could break out of the header (spaces, ``;``, ``,``, quotes) is accepted.
    """
    if any(c.isspace() or c in ";,'\"\\" for c in url):
        raise ValueError("must not contain spaces, quotes, ';' or ','")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise ValueError("must start with https:// or http://")
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
    if missing:
        raise ValueError(f"must contain {', '.join(missing)}")
    host = parts.netloc.lower()
    if "@" in host or not _HOST.match(host):
        raise ValueError("must name a host (no user name; {s} only as the first host label)")
    return f"{parts.scheme}://{host.replace('{s}.', '*.', 1)}"


def parse_master_keys(value: str) -> dict[str, bytes]:
    """Parse ``id=base64,id2=base64`` into 32-byte AES-256 keys, in the order given."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        key_id, sep, encoded = item.partition("=")
        if not sep or not key_id:
            raise ValueError("master keys look like 'id=base64key,id2=base64key'")
        try:
            raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"master key {key_id!r} is not valid base64") from exc
        if len(raw) != 32:
            raise ValueError(f"master key {key_id!r} must be 32 bytes (AES-256), got {len(raw)}")
        keys[key_id] = raw
    if not keys:
        raise ValueError("at least one master key is required")
    return keys


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
