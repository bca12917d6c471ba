"""Failed authentication: rate limits, Prometheus counts and aggregated audit rows.

- Failed authentications are counted per client address, and per subject once
  a token's signature has proved the subject (a made-up ``sub`` in a forged
  token must not lock a real user out). Past the limit the caller gets 429
  with ``Retry-After`` instead of 401. A request whose token verifies is never
  throttled by its address, so one broken client behind a shared office NAT
  does not lock out everyone else there.
- The counters live in a :mod:`limits` storage: in memory by default (one
  process), or Redis when ``CASECOORD_RATE_LIMIT_STORAGE`` names one, so
  several processes share one limit. Redis trouble fails open (logged): the
  limiter must never take authentication down with it.
- Refusals of unauthenticated requests are not audited one by one: they are
  counted per client address and written as one ``auth.refused`` row per
  address per window (with the count and the reasons), so no one can grow the
  audit table at line rate. Refusals of a known user stay individual rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections import Counter as Tally
from dataclasses import dataclass, field
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string
from prometheus_client import CollectorRegistry, Counter

from app.platform.config import Settings
from app.platform.problems import TooManyRequests

log = logging.getLogger("casecoord.auth")

#: Distinct addresses kept per window; beyond it, refusals pool under one row.
MAX_TRACKED_ADDRESSES = 10_000
OVERFLOW = "(other addresses)"


def _storage_uri(configured: str | None) -> str:
    if not configured or configured == "memory://":
        return "async+memory://"
    if configured.startswith(("redis://", "rediss://")):
        return "async+" + configured
    return configured


def _key(kind: str, value: str) -> str:
    # Hashed: the shared store never holds addresses or user ids in the clear.
    return f"{kind}:{hashlib.sha256(value.encode('utf-8', 'replace')).hexdigest()[:32]}"


def category(reason: str) -> str:
    """A small, fixed label set for metrics (the audit row keeps the full reason)."""
    for prefix, label in (
        ("no token", "no_token"),
        ("token expired", "expired"),
        ("signature", "signature"),
        ("algorithm", "algorithm"),
        ("unknown signing key", "unknown_key"),
        ("token has no key id", "unknown_key"),
        ("claims rejected", "claims"),
        ("bad claim", "claims"),
        ("token lacks", "claims"),
        ("throttled", "throttled"),
    ):
        if reason.startswith(prefix):
            return label
    return "malformed"


@dataclass
class _Window:
    started: float
    counts: dict[str, Tally[str]] = field(default_factory=dict)


class AuthGuard:
    """One per app (``app.state.auth_guard``): limiter, metrics and refusal tally."""

    def __init__(self, settings: Settings, registry: CollectorRegistry) -> None:
        self.per_address: RateLimitItem = parse(settings.auth_failure_limit_per_address)
        self.per_subject: RateLimitItem = parse(settings.auth_failure_limit_per_subject)
        options: dict[str, Any] = {}
        uri = _storage_uri(settings.rate_limit_storage)
        if uri.startswith("async+redis"):
            options["implementation"] = "redispy"
        self.storage = storage_from_string(uri, **options)
        self.limiter = FixedWindowRateLimiter(self.storage)
        self.window_seconds = settings.auth_refusal_window_seconds
        self._window = _Window(started=time.monotonic())
        self._lock = asyncio.Lock()
        self.refusals = Counter(
            "casecoord_auth_refusals_total",
            "Refused authentications by reason category (401 and 429).",
            ["reason", "status"],
            registry=registry,
        )
        self.throttled = Counter(
            "casecoord_auth_throttled_total",
            "Requests answered 429 by the failed-authentication limit, by key kind.",
            ["kind"],
            registry=registry,
        )

    # --- limits ----------------------------------------------------------------

    async def _hit(self, item: RateLimitItem, key: str) -> bool:
        try:
            return await self.limiter.hit(item, key)
        except Exception:  # Redis down: fail open, loudly
            log.warning("rate-limit store unavailable; not limiting", exc_info=True)
            return True

    async def _retry_after(self, item: RateLimitItem, key: str) -> int:
        try:
            stats = await self.limiter.get_window_stats(item, key)
            return max(1, math.ceil(stats.reset_time - time.time()))
        except Exception:
            return int(item.get_expiry())

    async def subject_blocked(self, subject_key: str) -> int | None:
        """Seconds to wait when this (verified) subject is over its limit, else None."""
        key = _key("sub", subject_key)
        try:
            ok = await self.limiter.test(self.per_subject, key)
        except Exception:
            log.warning("rate-limit store unavailable; not limiting", exc_info=True)
            return None
        return None if ok else await self._retry_after(self.per_subject, key)

    async def failed(self, address: str | None, subject_key: str | None = None) -> int | None:
        """Count one failed authentication; seconds to wait when now over a limit."""
        retry: int | None = None
        for kind, item, value in (
            ("address", self.per_address, address),
            ("sub", self.per_subject, subject_key),
        ):
            if value is None:
                continue
            key = _key(kind, value)
            if not await self._hit(item, key):
                self.throttled.labels(kind).inc()
                retry = max(retry or 0, await self._retry_after(item, key))
        return retry

    def too_many(self, retry_after: int) -> TooManyRequests:
        return TooManyRequests(
            "Too many failed authentications; retry later.",
            headers={"Retry-After": str(retry_after)},
        )

    # --- the aggregated audit trail ---------------------------------------------------

    def note(self, address: str | None, reason: str, status: int) -> None:
        """Tally a refusal of an unauthenticated request (no DB write here)."""
        self.refusals.labels(category(reason), str(status)).inc()
        counts = self._window.counts
        addr = address or "unknown"
        if addr not in counts and len(counts) >= MAX_TRACKED_ADDRESSES:
            addr = OVERFLOW
        counts.setdefault(addr, Tally())[f"{status}:{reason[:60]}"] += 1

    def due(self) -> bool:
        return time.monotonic() - self._window.started >= self.window_seconds

    async def flush(self, db: Any) -> int:
        """Write one ``auth.refused`` row per address of the closed window; rows written."""
        from app.audit.service import record_refusal_tally  # audit sits above auth

        async with self._lock:
            window, self._window = self._window, _Window(started=time.monotonic())
            if not window.counts:
                return 0
            try:
                await record_refusal_tally(db, window.counts, self.window_seconds)
            except Exception:
                log.exception("could not write the refusal tally")
                return 0
            return len(window.counts)

    async def flush_forever(self, db: Any) -> None:
        while True:
            await asyncio.sleep(self.window_seconds)
            await self.flush(db)
