"""Concerns: the push by which a professional raises a worry about a person with a team.

A concern is addressed to a team (an Ankkuri team, a Marak group, an HAH
unit). The team screens it; the submitter follows only its status. The
subject is linked to a person record (matched by identity code or newly
recorded), but the names as submitted are kept on the concern, so screening
shows what the submitter wrote, not what another case recorded.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.crypto import EncryptedText, Sealed
from app.platform.db import Base, Timestamps, UUIDPk, Versioned

#: A concern's free text, sealed under the field key (app/casekeys/freetext.py).
TEXTS = ("subject_given_name", "subject_family_name", "description", "decision_reason")


class Concern(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "concerns"
    __table_args__ = (
        Index("ix_concerns_team_id_created_at", "team_id", "created_at", "id"),
        Index("ix_concerns_submitted_by_created_at", "submitted_by", "created_at", "id"),
        Index("ix_concerns_person_id", "person_id"),
    )

    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="RESTRICT"))
    #: The names as submitted, the description and the decision's reason are sealed
    #: under the field key (no case owns a concern); ``*_plain`` holds text written
    #: before revision 0025 until ``keys rotate`` (app/casekeys/freetext.py).
    subject_given_name_plain: Mapped[str | None] = mapped_column("subject_given_name", String(200))
    subject_given_name_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    subject_family_name_plain: Mapped[str | None] = mapped_column(
        "subject_family_name", String(200)
    )
    subject_family_name_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    subject_birth_date: Mapped[date | None]
    #: The identity code matched a person already on record.
    matched_existing: Mapped[bool] = mapped_column(default=False)
    description_plain: Mapped[str | None] = mapped_column("description", Text)
    description_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    #: a LegalBasis: consent, child_welfare_act_25, threat_to_life_or_health_notification
    #: or police_statutory_duty
    legal_basis: Mapped[str] = mapped_column(String(50))
    #: routine | urgent | immediate
    urgency: Mapped[str] = mapped_column(String(10))
    #: received | under_consideration | action_taken | no_further_action
    status: Mapped[str] = mapped_column(String(30))
    status_changed_at: Mapped[datetime]
    submitted_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    submitter_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    #: create_case | attach | dismiss
    decision: Mapped[str | None] = mapped_column(String(20))
    decision_reason_plain: Mapped[str | None] = mapped_column("decision_reason", Text)
    decision_reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    screened_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    screened_at: Mapped[datetime | None]
