"""Typed settings, read once from the environment (prefix ``CASECOORD_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Asymmetric signature families. Exactly one family may be configured, so an
#: attacker can never steer verification into another key interpretation
#: (the classic RS256 -> HS256 "public key as HMAC secret" confusion).
ALGORITHM_FAMILIES: dict[str, frozenset[str]] = {
    "RS": frozenset({"RS256", "RS384", "RS512"}),
    "PS": frozenset({"PS256", "PS384", "PS512"}),
    "ES": frozenset({"ES256", "ES384", "ES512"}),
}

DEV_KEY_ID_PREFIX = "casecoord-dev-"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASECOORD_", extra="ignore")

    env: Literal["development", "production"] = "development"
    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default is SQLite in DATA_DIR.",
    )

    oidc_issuer: str = "casecoord-dev"
    oidc_audience: str = "casecoord"
    oidc_jwks: str | None = Field(
        default=None, description="Path to a JWKS file, or an https:// URL to fetch and cache."
    )
    oidc_algorithms: list[str] = ["RS256"]
    oidc_jwks_cache_seconds: int = 600

    max_body_bytes: int = 1_000_000
    log_level: str = "INFO"
    db_echo: bool = False

    #: Keys for protected fields: "kid:base64key,kid2:base64key"; the first is the
    #: primary (new values are sealed with it), the others still decrypt. Each key
    #: is 32 random bytes (AES-256-GCM). Required in production; in development a
    #: key file is generated in DATA_DIR (see app/platform/crypto.py).
    field_keys: SecretStr | None = None
    #: Base64 of at least 32 random bytes: the HMAC key of the identity-code blind
    #: index. Separate from field_keys so encryption keys rotate without re-indexing.
    blind_index_key: SecretStr | None = None

    #: Marak "potential escalation": police-reported incidents in 12 months that
    #: meet the criterion (docs/DOMAIN.md: 3 by default; some areas use 5).
    marak_escalation_incidents: int = Field(default=3, ge=1, le=50)
    #: HAH: the longest interval, in days, between reviews per summary priority.
    hah_review_days_high: int = Field(default=14, ge=1, le=730)
    hah_review_days_moderate: int = Field(default=60, ge=1, le=730)
    hah_review_days_low: int = Field(default=180, ge=1, le=730)

    #: Referrals: the response target when a service lists none, in days.
    referral_default_response_days: int = Field(default=14, ge=0, le=365)
    #: An unanswered referral (requested or received) fails with reason "expired"
    #: this many days after it was sent (never before its response target).
    referral_expiry_days: int = Field(default=30, ge=1, le=365)
    #: How often a running server expires referrals, in seconds (0: only by
    #: ``casecoord referrals expire``, e.g. from cron).
    referral_sweep_seconds: int = Field(default=300, ge=0, le=86_400)

    #: Where failed-authentication counters live: unset (or memory://) keeps them in
    #: the process; redis://host:6379/0 shares them between processes.
    rate_limit_storage: str | None = None
    #: Failed authentications allowed per client address, and per (verified)
    #: subject, in the `limits` notation ("30/minute", "100 per hour").
    auth_failure_limit_per_address: str = "30/minute"
    auth_failure_limit_per_subject: str = "10/minute"
    #: Refusals of unauthenticated requests are audited as one row per client
    #: address per window of this many seconds, with the count.
    auth_refusal_window_seconds: int = Field(default=60, ge=1, le=86_400)
    #: The access log's sealer chains committed rows this often (0 = only by
    #: ``casecoord audit seal``); see README, "Audit chain".
    audit_seal_seconds: float = Field(default=2.0, ge=0, le=3600)
    #: Ed25519 key that signs audit checkpoints; kept outside the database.
    #: Default: <data_dir>/audit-checkpoint.key (its verifier key beside it, .pub).
    audit_checkpoint_key: Path | None = None
    audit_checkpoint_origin: str = "casecoord/audit"

    #: Background jobs (app/jobs/, README "Background jobs"): "embedded" runs them
    #: in each server process, "external" only in ``casecoord worker`` processes,
    #: "off" nowhere (cron runs ``casecoord worker --once`` instead).
    jobs: Literal["embedded", "external", "off"] = "embedded"
    #: How long a singleton job's lease lasts without renewal: after a kill -9,
    #: another process runs the job at most this long after the last renewal.
    jobs_lease_seconds: float = Field(default=60.0, ge=0.5, le=3600)
    #: The longest sleep between two looks at the job table.
    jobs_poll_seconds: float = Field(default=1.0, gt=0, le=300)
    #: Runs kept per job in ``job_runs``.
    jobs_history_keep: int = Field(default=200, ge=1, le=100_000)
    #: Where the periodic checkpoint job writes signed checkpoints (unset: the
    #: job is off unless audit_checkpoint_seconds is set; then
    #: <data_dir>/audit-checkpoints, like ``casecoord audit checkpoint``).
    audit_checkpoint_dir: Path | None = None
    #: How often to write audit checkpoints (0: never; unset: hourly when
    #: audit_checkpoint_dir is set, else never).
    audit_checkpoint_seconds: float | None = Field(default=None, ge=0, le=31 * 86_400)
    #: Webhooks (app/webhooks). Development only: allow http:// endpoint URLs, and
    #: endpoints on private, loopback or link-local addresses. Refused in production.
    webhook_allow_insecure: bool = False
    webhook_allow_private: bool = False
    #: After a secret rotation the old secret also signs for this many seconds.
    webhook_secret_overlap_seconds: int = Field(default=86_400, ge=0, le=30 * 86_400)
    #: A delivery attempt's HTTP timeout, and how long a worker's claim on a delivery
    #: lasts (a worker killed mid-delivery leaves a claim that expires after this).
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    #: The longest Retry-After (429, 502, 504) honoured, in seconds.
    webhook_retry_after_cap_seconds: int = Field(default=86_400, ge=0, le=7 * 86_400)
    #: How often the fan-out and delivery jobs run, in seconds (0: off).
    webhook_fanout_seconds: float = Field(default=1.0, ge=0, le=3600)
    webhook_delivery_seconds: float = Field(default=1.0, ge=0, le=3600)
    #: Deliveries one worker claims per run.
    webhook_batch: int = Field(default=20, ge=1, le=500)
    #: Retention (issue 15 section 4; README "Retention"): a JSON file of
    #: {record type: {organisation kind or "*": days}} overriding the documented
    #: defaults of app/retention/classes.py.
    retention_classes: Path | None = None
    #: How often the ``retention.run`` job runs, in seconds. 0 (the default) switches
    #: it off: the default periods are not confirmed, and deletion cannot be undone,
    #: so a deployment turns it on (86400, daily) once its controller has confirmed
    #: them; ``casecoord retention run --dry-run`` shows what would go.
    retention_seconds: int = Field(default=0, ge=0, le=31 * 86_400)

    @field_validator("auth_failure_limit_per_address", "auth_failure_limit_per_subject")
    @classmethod
    def _limit_notation(cls, value: str) -> str:
        from limits import parse

        parse(value)  # raises ValueError on a malformed limit
        return value

    @field_validator("oidc_algorithms")
    @classmethod
    def _one_family(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one algorithm is required")
        for members in ALGORITHM_FAMILIES.values():
            if set(value) <= members:
                return value
        raise ValueError(
            "OIDC_ALGORITHMS must name asymmetric algorithms of exactly one family "
            "(RS*, PS* or ES*); HS* and none are never accepted"
        )

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.env == "production":
            if not self.oidc_jwks:
                raise ValueError("CASECOORD_OIDC_JWKS is required in production")
            if self.oidc_jwks.startswith("http://"):
                raise ValueError("CASECOORD_OIDC_JWKS must use https in production")
            if self.webhook_allow_insecure or self.webhook_allow_private:
                raise ValueError("CASECOORD_WEBHOOK_ALLOW_* are for development only")
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'casecoord.db').resolve()}"

    @property
    def dev_jwks_path(self) -> Path:
        return self.data_dir / "dev-jwks.json"

    @property
    def dev_private_key_path(self) -> Path:
        return self.data_dir / "dev-signing-key.pem"

    @property
    def audit_checkpoint_key_path(self) -> Path:
        return self.audit_checkpoint_key or self.data_dir / "audit-checkpoint.key"

    @property
    def dev_field_keys_path(self) -> Path:
        return self.data_dir / "dev-field-keys.json"

    @property
    def audit_checkpoint_every(self) -> float:
        if self.audit_checkpoint_seconds is not None:
            return self.audit_checkpoint_seconds
        return 3600.0 if self.audit_checkpoint_dir is not None else 0.0

    @property
    def audit_checkpoint_out(self) -> Path:
        return self.audit_checkpoint_dir or self.data_dir / "audit-checkpoints"


@lru_cache
def get_settings() -> Settings:
    return Settings()
