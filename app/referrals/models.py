"""The service directory (docs/DOMAIN.md section 3) and the referrals made to it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.crypto import EncryptedText, Sealed
from app.platform.db import Base, Timestamps, UUIDPk, Versioned, utcnow


class ServiceEntry(UUIDPk, Timestamps, Versioned, Base):
    """A service a case can be referred to. Holds public contact channels only."""

    __tablename__ = "service_entries"
    __table_args__ = (
        UniqueConstraint(
            "provider_organisation_id", "name", name="uq_service_entries_provider_name"
        ),
    )

    provider_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    service_type: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Municipalities or regions served; "national" for a nationwide service.
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: fi / sv / en / other
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Public phone number and public web address only: never a person's contact.
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_web: Mapped[str | None] = mapped_column(String(300))
    accepts_electronic_referrals: Mapped[bool] = mapped_column(default=False)
    response_time_target_days: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)


class Referral(UUIDPk, Timestamps, Versioned, Base):
    """A case's referral of one participant to one service, followed to its outcome.

    The receiving organisation sees only ``shared_enc``: the fields the referrer
    chose, copied and sealed when the referral was sent (what was disclosed
    stays answerable even if the person's record changes later).
    """

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_case", "case_id", "created_at"),
        Index("ix_referrals_provider_status", "provider_organisation_id", "status", "created_at"),
        # The inbox pages by (created_at, id) within one organisation (bench/README.md).
        Index("ix_referrals_provider_created", "provider_organisation_id", "created_at", "id"),
        # The referrer's /me/tasks starts from their own referrals.
        Index("ix_referrals_created_by", "created_by", "status", "response_due_at"),
        Index("ix_referrals_status_due", "status", "response_due_at"),
        Index("ix_referrals_status_expires", "status", "expires_at"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    subject_person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id", ondelete="RESTRICT")
    )
    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("service_entries.id", ondelete="RESTRICT")
    )
    #: Denormalised from the service when the referral is made: who receives it.
    provider_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    #: Free text: sealed under the case key (``*_enc``); the ``*_plain`` columns hold
    #: text written before revision 0025 until ``keys rotate`` (app/casekeys/freetext.py).
    reason_plain: Mapped[str | None] = mapped_column("reason", Text)
    reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    #: FHIR request priority: routine | urgent | asap | stat
    urgency: Mapped[str] = mapped_column(String(10))
    #: The fields the referrer chose to share (app/referrals/schemas.py SharedField).
    shared_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    note_to_provider_plain: Mapped[str | None] = mapped_column("note_to_provider", Text)
    note_to_provider_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    shared_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    #: The person's consent or statutory basis record (scope service_referral).
    basis_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("person_consents.id", ondelete="RESTRICT")
    )
    basis_kind: Mapped[str] = mapped_column(String(50))
    #: A plan measure that follows this referral (completed -> done, ...).
    measure_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("plan_measures.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default="draft")
    #: The state an on_hold referral returns to.
    held_from: Mapped[str | None] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(30))
    reason_text_plain: Mapped[str | None] = mapped_column("reason_text", Text)
    reason_text_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_text_plain: Mapped[str | None] = mapped_column("outcome_text", Text)
    outcome_text_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    requested_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    #: Set when sent: the service's response target, and when it expires unanswered.
    response_due_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    #: The referrer has seen that it expired (clears the /me/tasks entry).
    expiry_acknowledged_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_by_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )


class ReferralEvent(UUIDPk, Base):
    """One move of a referral: the history both sides can trust."""

    __tablename__ = "referral_events"
    __table_args__ = (Index("ix_referral_events_referral", "referral_id", "occurred_at"),)

    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    #: referrer | provider | system
    side: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    actor_organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    reason_code: Mapped[str | None] = mapped_column(String(30))
    #: A copy of the referral's reason text, sealed under the referral's case key.
    reason_text_plain: Mapped[str | None] = mapped_column("reason_text", Text)
    reason_text_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    outcome: Mapped[str | None] = mapped_column(String(30))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
