"""Plans, their versions and measures; Marak meetings, agendas and minutes.

A plan belongs to one case and one kind. Its content lives in versions: the
newest version is the only one that can be a draft, agreeing it freezes it
(``agreed_at``), and a later change starts a new draft copied from it. The
measures' *definitions* follow the same rule (edited only while the plan is a
draft; each agreed version keeps a snapshot of them), while their *status* is
operational follow-up and moves on the live row, audited at every change.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.crypto import EncryptedText, Sealed
from app.platform.db import Base, Timestamps, UUIDPk, Versioned


class Plan(UUIDPk, Timestamps, Versioned, Base):
    """One plan per case and kind; ``version`` (the ETag) moves with every change."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("case_id", "kind", name="uq_plans_case_kind"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    #: safety_plan (Marak) | risk_management_plan (HAH) | action_plan (Ankkuri)
    kind: Mapped[str] = mapped_column(String(30))
    current_number: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    last_reviewed_at: Mapped[datetime | None]
    last_reviewed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    #: Sealed under the case's data key; ``*_plain``: before 0021 (app/casekeys/freetext.py).
    last_review_note_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    last_review_note_plain: Mapped[str | None] = mapped_column("last_review_note", Text)


class PlanVersion(UUIDPk, Timestamps, Base):
    """The content of a plan at one version. Frozen once ``agreed_at`` is set."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number", name="uq_plan_versions_plan_number"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    number: Mapped[int]
    #: Written for the victim or young person; goes into the printable document.
    #: Sealed under the case's data key (0024), as the contacts and the measures
    #: snapshot (JSON, sealed whole); ``*_plain``: written before 0024.
    summary_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    summary_plain: Mapped[str | None] = mapped_column("summary", Text)
    #: Contacts for the person (support person, helplines): label + phone.
    contacts_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    contacts_plain: Mapped[list[dict[str, Any]] | None] = mapped_column(
        "contacts", JSON(none_as_null=True)
    )
    #: For the professionals only; never printed. Sealed under the case's data key;
    #: ``internal_note_plain``: written before 0021 (app/casekeys/freetext.py).
    internal_note_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    internal_note_plain: Mapped[str | None] = mapped_column("internal_note", Text)
    #: Why an agreed plan was reopened as this draft (sealed under the case key; 0023).
    revision_reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    #: Marak safe contact (how and when to contact, who is and is not safe), sealed.
    safe_contact_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    #: The measures' definitions when the version was agreed.
    measures_snapshot_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    measures_snapshot_plain: Mapped[list[dict[str, Any]] | None] = mapped_column(
        "measures_snapshot", JSON(none_as_null=True)
    )
    based_on_number: Mapped[int | None]
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    agreed_at: Mapped[datetime | None]
    agreed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    agreed_in_meeting_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="RESTRICT")
    )


class Measure(UUIDPk, Timestamps, Versioned, Base):
    """A concrete step owned by one organisation, with a deadline and a status."""

    __tablename__ = "plan_measures"
    __table_args__ = (
        Index("ix_plan_measures_plan_id", "plan_id", "created_at"),
        Index("ix_plan_measures_case_status", "case_id", "status"),
        Index("ix_plan_measures_org_due", "responsible_organisation_id", "status", "due_date"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    #: Denormalised from the plan: the closure gate and /me/tasks ask by case.
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(30))
    #: Sealed under the case's data key (0024); ``*_plain``: written before 0024.
    description_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    description_plain: Mapped[str | None] = mapped_column("description", Text)
    responsible_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    responsible_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    due_date: Mapped[date | None]
    #: planned | in_progress | done | not_done | cancelled
    status: Mapped[str] = mapped_column(String(20), default="planned")
    #: Sealed under the case's data key (0027); ``*_plain``: written before 0027.
    outcome_note_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    outcome_note_plain: Mapped[str | None] = mapped_column("outcome_note", Text)
    #: The plan version that introduced it, and (if dropped from a later draft) removed it.
    added_in: Mapped[int]
    removed_in: Mapped[int | None]
    status_changed_at: Mapped[datetime | None]
    status_changed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class Meeting(UUIDPk, Timestamps, Versioned, Base):
    """A Marak group meeting (monthly, or an emergency meeting in between)."""

    __tablename__ = "meetings"
    __table_args__ = (Index("ix_meetings_team_scheduled", "team_id", "scheduled_at", "id"),)

    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    scheduled_at: Mapped[datetime]
    #: monthly | emergency
    kind: Mapped[str] = mapped_column(String(20))
    chair_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class AgendaItem(UUIDPk, Timestamps, Base):
    __tablename__ = "meeting_agenda_items"
    __table_args__ = (
        UniqueConstraint("meeting_id", "case_id", name="uq_meeting_agenda_items_meeting_case"),
        Index("ix_meeting_agenda_items_case_id", "case_id"),
    )

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    position: Mapped[int]
    #: referral | repeat
    reason: Mapped[str] = mapped_column(String(20))
    added_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class Attendance(UUIDPk, Timestamps, Base):
    """Which organisations attended (the minutes record agencies, not individuals)."""

    __tablename__ = "meeting_attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "organisation_id", name="uq_meeting_attendance_meeting_org"),
    )

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    present: Mapped[bool] = mapped_column(default=True)
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class MinutesEntry(UUIDPk, Timestamps, Base):
    """One line of a case's minutes. Immutable; the meeting's closing freezes them all."""

    __tablename__ = "meeting_minutes"
    __table_args__ = (
        Index("ix_meeting_minutes_meeting_case", "meeting_id", "case_id", "created_at"),
    )

    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    #: shared | not_shared | decision | action
    kind: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    #: fact | opinion (shared information only)
    information_kind: Mapped[str | None] = mapped_column(String(10))
    #: Sealed under the case's data key (app/casekeys/service.py ``seal_text``);
    #: ``*_plain``: written before 0021, emptied by ``keys rotate`` (LEGACY_PLAINTEXT).
    text_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    text_plain: Mapped[str | None] = mapped_column("text", Text)
    #: Why an agency deliberately did not share (not_shared only).
    reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    reason_plain: Mapped[str | None] = mapped_column("reason", Text)
    measure_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("plan_measures.id", ondelete="RESTRICT")
    )
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
