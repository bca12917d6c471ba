"""Webhook endpoints, their deliveries and each delivery's attempts.

A delivery is one (outbox event, endpoint) pair: its ``id`` is the stable
``webhook-id`` a receiver dedupes on, across retries and manual redelivery.
Nothing here holds personal data: the payload is built at send time from the
outbox row (ids and a type); attempts keep an HTTP status, a duration and an
error *class*, never a response body.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.crypto import EncryptedText, Sealed
from app.platform.db import Base, Timestamps, UUIDPk, Versioned, utcnow

Sequence = BigInteger().with_variant(Integer(), "sqlite")


class DeliveryStatus:
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    #: Every attempt of the schedule failed.
    DEAD = "dead"
    #: Not sent: the organisation lost sight of the object, or the endpoint went away.
    DROPPED = "dropped"


class WebhookEndpoint(UUIDPk, Timestamps, Versioned, Base):
    """One organisation's subscription: where to send which event types."""

    __tablename__ = "webhook_endpoints"

    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    #: ``whsec_...``, sealed (app/platform/crypto.py); shown once, at create and rotate.
    secret_enc: Mapped[Sealed] = mapped_column(EncryptedText)
    #: The secret before the last rotation: it also signs until ``previous_until``.
    previous_secret_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    previous_until: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class WebhookDelivery(UUIDPk, Base):
    """One event for one endpoint, until it succeeds, dies or is dropped."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_org", "organisation_id", "created_at", "id"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING)
    #: Attempts in the current round (the schedule's position); a redelivery restarts it.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    #: The worker holding the delivery and until when; an expired lease is free again.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(60))
    #: Why a delivery was dropped (a fixed phrase, never data).
    dropped_reason: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(UUIDPk, Base):
    """One HTTP attempt: when, the status, how long, and an error class. No body."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "attempted_at"),)

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    #: timeout, connect_error, http_error, refused_address, ... (None on success)
    error: Mapped[str | None] = mapped_column(String(60))
    worker: Mapped[str | None] = mapped_column(String(100))


class WebhookCursor(Base):
    """How far the fan-out has read the outbox (one row per cursor name)."""

    __tablename__ = "webhook_cursors"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Sequence, default=0)
