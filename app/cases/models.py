"""Case records and everything that hangs off them.

Removals of members and participants are soft (``removed_at``): who could see
a case, and who was in it, must stay answerable after the fact. Notes are
immutable; a correction is a new note that points at the old one.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.directory.models import User
from app.persons.models import Person
from app.platform.crypto import EncryptedText, Sealed
from app.platform.db import Base, Timestamps, UUIDPk, Versioned, utcnow


class Case(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_created_at_id", "created_at", "id"),
        Index("ix_cases_team_id_status", "team_id", "status"),
    )

    #: ankkuri | marak | hah; taken from the team's kind at creation, never changed.
    scheme: Mapped[str] = mapped_column(String(10))
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    #: The data owner: the organisation of the professional who opened the case.
    owner_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    #: A human handle such as ``MRK-2026-7F3K9Q``; random, never personal data.
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(30))
    #: Set by assessments (a later issue); never by the case API.
    risk_level: Mapped[str | None] = mapped_column(String(10))
    #: Sealed under the case's data key; ``summary_plain``: written before 0024
    #: (LEGACY_PLAINTEXT, app/casekeys/freetext.py), emptied by ``keys rotate``.
    summary_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    summary_plain: Mapped[str | None] = mapped_column("summary", Text)
    next_review_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closure_outcome: Mapped[str | None] = mapped_column(String(40))
    closure_reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    closure_reason_plain: Mapped[str | None] = mapped_column("closure_reason", Text)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class CaseTransition(UUIDPk, Base):
    """One step of the lifecycle, with what its gates required."""

    __tablename__ = "case_transitions"
    __table_args__ = (Index("ix_case_transitions_case_id", "case_id", "occurred_at"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    from_status: Mapped[str] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    #: Sealed under the case's data key (0024); ``*_plain``: before 0024.
    reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    reason_plain: Mapped[str | None] = mapped_column("reason", Text)
    outcome: Mapped[str | None] = mapped_column(String(40))
    #: Marak referral consent as documented on the transition. The people issue
    #: replaces this with consent records; the gate reads these until then.
    victim_aware: Mapped[bool | None]
    consent_given: Mapped[bool | None]
    no_consent_reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    no_consent_reason_plain: Mapped[str | None] = mapped_column("no_consent_reason", Text)
    actor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The names of the gates that were checked and passed.
    gates: Mapped[list[str]] = mapped_column(JSON, default=list)


class CaseMember(UUIDPk, Timestamps, Versioned, Base):
    """A professional who may see the case. Re-adding a removed member revives the row."""

    __tablename__ = "case_members"
    __table_args__ = (
        UniqueConstraint("case_id", "user_id", name="uq_case_members_case_user"),
        Index("ix_case_members_user_id", "user_id", "case_id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    case_role: Mapped[str] = mapped_column(String(20))
    #: True when the user was admitted from outside the case's team (or, in
    #: HAH, is not police); the reason is then mandatory.
    invited: Mapped[bool] = mapped_column(default=False)
    #: Sealed under the case's data key (0024); ``invite_reason_plain``: before 0024.
    invite_reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    invite_reason_plain: Mapped[str | None] = mapped_column("invite_reason", Text)
    added_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )

    user: Mapped[User] = relationship(User, foreign_keys=[user_id], lazy="raise")


class CaseParticipant(UUIDPk, Timestamps, Versioned, Base):
    """A person the case is about, in a role (victim, young person...)."""

    __tablename__ = "case_participants"
    __table_args__ = (
        UniqueConstraint("case_id", "person_id", name="uq_case_participants_case_person"),
        Index("ix_case_participants_person_id", "person_id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(String(30))
    added_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )

    person: Mapped[Person] = relationship(Person, lazy="raise")


class CaseNote(UUIDPk, Timestamps, Versioned, Base):
    """An immutable entry. ``visibility`` narrows who of the case's readers see it."""

    __tablename__ = "case_notes"
    __table_args__ = (
        Index("ix_case_notes_case_id_created_at", "case_id", "created_at", "id"),
        Index("ix_case_notes_corrects_id", "corrects_id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: Copies taken when written, so visibility does not drift when people move.
    author_name: Mapped[str] = mapped_column(String(200))
    author_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    author_role: Mapped[str] = mapped_column(String(20))
    visibility: Mapped[str] = mapped_column(String(20))
    #: fact | opinion: the Marak research rule keeps facts apart from opinions.
    kind: Mapped[str] = mapped_column(String(10))
    #: Sealed under the case's data key (app/casekeys/service.py ``seal_text``).
    text_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    #: Plain text written before 0021; emptied by ``keys rotate`` (LEGACY_PLAINTEXT).
    text_plain: Mapped[str | None] = mapped_column("text", Text)
    corrects_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("case_notes.id", ondelete="RESTRICT")
    )
    correction_reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    correction_reason_plain: Mapped[str | None] = mapped_column("correction_reason", Text)


class EmergencyGrant(UUIDPk, Timestamps, Versioned, Base):
    """Break the glass: one hour of read access to one case, reviewed by an auditor."""

    __tablename__ = "emergency_grants"
    __table_args__ = (
        Index("ix_emergency_grants_user_case", "user_id", "case_id", "expires_at"),
        Index("ix_emergency_grants_case_id", "case_id", "created_at"),
        Index("ix_emergency_grants_review", "reviewed_at", "created_at", "id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    #: The role that entitled the caller (police, social_worker or health_worker).
    role: Mapped[str] = mapped_column(String(20))
    #: Sealed under the case's data key; ``reason_plain``: before 0021 (LEGACY_PLAINTEXT).
    reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    reason_plain: Mapped[str | None] = mapped_column("reason", Text)
    expires_at: Mapped[datetime]
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    review_finding: Mapped[str | None] = mapped_column(String(20))
    review_note_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    review_note_plain: Mapped[str | None] = mapped_column("review_note", Text)


class CaseExclusion(UUIDPk, Timestamps, Versioned, Base):
    """Must-not-receive: a party (a person or an organisation) who must never get
    this case's information, typically the perpetrator and their relatives.

    Removal is soft, like members': who was excluded, and when, stays answerable.
    """

    __tablename__ = "case_exclusions"
    __table_args__ = (
        Index("ix_case_exclusions_case_id", "case_id", "created_at"),
        Index("ix_case_exclusions_organisation_id", "organisation_id", "case_id"),
        CheckConstraint("(person_id IS NULL) <> (organisation_id IS NULL)", name="one_party"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="RESTRICT")
    )
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    #: Sealed under the case's data key (0024); ``reason_plain``: before 0024.
    reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    reason_plain: Mapped[str | None] = mapped_column("reason", Text)
    added_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
