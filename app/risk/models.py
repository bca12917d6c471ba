"""Assessments, stored instrument versions, incidents and external-tool records.

Two kinds of row here may never change once they count:

- a *submitted* assessment (re-assessment is a new row, so the history shows
  how the risk changed), and
- a published instrument version (assessments pin it and must be re-readable
  and re-scorable exactly).

Both are enforced twice: the services refuse, and :func:`_refuse_changes`
stops any UPDATE the ORM would emit for them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from app.casekeys.freetext import JSON_DICT_SPLIT
from app.platform.crypto import EncryptedText, Sealed
from app.platform.db import Base, Timestamps, UUIDPk, Versioned, utcnow


class Assessment(UUIDPk, Timestamps, Versioned, Base):
    """One completion of an instrument version on a case (a draft until submitted)."""

    __tablename__ = "assessments"
    __table_args__ = (
        Index("ix_assessments_case_id_created_at", "case_id", "created_at", "id"),
        Index("ix_assessments_case_id_scheme_submitted_at", "case_id", "scheme", "submitted_at"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    #: The pinned version, and the content hash it had when the answers were given.
    instrument_code: Mapped[str] = mapped_column(String(63))
    instrument_version: Mapped[int] = mapped_column(Integer)
    instrument_hash: Mapped[str] = mapped_column(String(80))
    scheme: Mapped[str] = mapped_column(String(10))
    #: draft | submitted
    status: Mapped[str] = mapped_column(String(10))
    #: The answers as given (validated against the pinned version), in item order:
    #: item and value. Their free text (source, evidence, note) is sealed under
    #: the case's data key in ``answer_text_enc`` as ``{item: {field: text}}``;
    #: rows from before 0021 hold it inline until ``keys rotate`` (LEGACY_JSON_TEXT).
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    answer_text_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    #: Field code -> value. Text-kind values are sealed under the case key in
    #: ``judgement_text_enc`` as ``{field: text}`` and stand here as ``null``;
    #: rows from before 0026 hold them inline until ``keys rotate``
    #: (app/risk/judgement_text.py).
    judgement: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    judgement_text_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    #: Server-computed; never taken from a client.
    score: Mapped[int | None] = mapped_column(Integer)
    #: The evaluated outcome (Marak criteria with reasons, HAH review, Ankkuri summary).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    risk_level: Mapped[str | None] = mapped_column(String(10))
    referral_criteria_met: Mapped[bool | None]
    next_review_on: Mapped[date | None]
    #: The Finnish calendar date the outcome was evaluated for.
    assessed_on: Mapped[date | None]
    assessor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: Copies taken when written, so the record reads the same when people move.
    assessor_name: Mapped[str] = mapped_column(String(200))
    assessor_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    submitted_at: Mapped[datetime | None]
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )


class StoredInstrument(UUIDPk, Base):
    """An instrument version published through the API (e.g. a licensed wording).

    ``definition`` holds the JSON exactly as its content hash was computed, so
    the hash can be re-checked whenever the row is read.
    """

    __tablename__ = "instrument_definitions"
    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_instrument_definitions_code_version"),
    )

    code: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    scheme: Mapped[str] = mapped_column(String(10))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(80))
    published_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class Incident(UUIDPk, Base):
    """An incident between the case's parties: when, who reported it, police or not.

    Deliberately no description: the escalation and repeat criteria need only
    the date and whether police were involved. ``note`` is a short pointer
    (e.g. a police report number), not an account of what happened.
    """

    __tablename__ = "case_incidents"
    __table_args__ = (
        Index("ix_case_incidents_case_id_occurred_on", "case_id", "occurred_on"),
        Index("ix_case_incidents_case_id_created_at", "case_id", "created_at", "id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    occurred_on: Mapped[date]
    source: Mapped[str] = mapped_column(String(30))
    police_reported: Mapped[bool]
    #: Sealed under the case's data key (0024); ``note_plain``: before 0024.
    note_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    note_plain: Mapped[str | None] = mapped_column("note", String(500))
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    recorded_by_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExternalAssessment(UUIDPk, Base):
    """That a licensed tool (HCR-20 V3, WAVR-21, VERA-2R, DyRiAS) was used: never its items."""

    __tablename__ = "external_assessments"
    __table_args__ = (
        Index("ix_external_assessments_case_id_created_at", "case_id", "created_at", "id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    tool: Mapped[str] = mapped_column(String(20))
    assessed_on: Mapped[date]
    assessor: Mapped[str] = mapped_column(String(200))
    summary_rating: Mapped[str] = mapped_column(String(10))
    #: Sealed under the case's data key (0024); ``reference_plain``: before 0024.
    reference_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    reference_plain: Mapped[str | None] = mapped_column("reference", String(200))
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    recorded_by_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImmutableRecord(RuntimeError):
    """An UPDATE of a row that may no longer change (a programming error, never a 4xx)."""


@event.listens_for(StoredInstrument, "before_update")
@event.listens_for(Incident, "before_update")
@event.listens_for(ExternalAssessment, "before_update")
def _refuse_changes(_mapper: Mapper[Any], _connection: Connection, target: Any) -> None:
    raise ImmutableRecord(f"{type(target).__name__} rows are immutable")


@event.listens_for(Assessment, "before_update")
def _refuse_changes_after_submission(
    _mapper: Mapper[Any], _connection: Connection, target: Assessment
) -> None:
    history = inspect(target).attrs.status.history
    was = [*history.unchanged, *history.deleted]
    if "submitted" in was:
        raise ImmutableRecord("a submitted assessment is immutable; re-assess with a new one")


async def _split_legacy_judgement(
    session: AsyncSession, judgement: dict[str, Any], further: tuple[Any, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    from app.risk.judgement_text import split_legacy

    return await split_legacy(session, judgement, further)


#: ``keys rotate`` and shredding split a pre-0026 judgement by its instrument version.
JSON_DICT_SPLIT["assessments"] = _split_legacy_judgement
