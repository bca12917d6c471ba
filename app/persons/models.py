"""People who appear in cases (victims, young people, persons of concern...).

*Identity is shared, facts are per case.* A :class:`Person` holds the identity
every case of the person shares: names, birth date, language, the identity
code (HMAC blind index + sealed) and the turvakielto flag (sealed). What a
team learns about where and how to reach the person -- address or shelter,
phones, the safe-contact arrangement with the feared persons -- is recorded
*in a case* (:class:`PersonCaseFacts`) and is visible only through it.
Attaching a known person to another case brings the identity and nothing else.

Protected values are AES-GCM envelopes bound to their row and column
(app/platform/crypto.py). Corrections are versions with author and reason:
:class:`PersonVersion` for identity (with the case it was made through) and
:class:`PersonCaseFactsVersion` for one case's facts.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.crypto import EncryptedText, FieldContext, Sealed
from app.platform.db import Base, Timestamps, UUIDPk, Versioned, utcnow
from app.platform.sealing import JsonSealing


class AuthoredVersion:
    """A version's author (their name and organisation as they were), reason, the
    fields it changed, and the whole record after it, sealed (protected fields)."""

    version: Mapped[int]
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    author_name: Mapped[str] = mapped_column(String(200))
    author_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    #: Sealed like the snapshot (the field key for identity, the case key for facts);
    #: ``reason_plain`` holds a reason written before revision 0025 until ``keys rotate``.
    reason_plain: Mapped[str | None] = mapped_column("reason", Text)
    reason_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    changed_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    snapshot_enc: Mapped[Sealed] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def authored(self, sealer: JsonSealing, shown: Collection[str]) -> dict[str, Any]:
        """The fields of its read model the version row holds (the reason opened with
        ``sealer``), the changed fields narrowed to the ``shown`` ones."""
        reason = self.reason_plain
        if self.reason_enc is not None:
            reason = sealer.open(self.reason_enc, FieldContext.of(self, "reason_enc"))
        return {
            "version": self.version,
            "author_id": self.author_id,
            "author_name": self.author_name,
            "author_organisation_id": self.author_organisation_id,
            "reason": reason,
            "changed_fields": [f for f in self.changed_fields if f in shown],
            "created_at": self.created_at,
        }

    def shown_snapshot(self, sealer: JsonSealing, shown: Collection[str]) -> dict[str, Any]:
        """The record after this version (opened with ``sealer``), only the ``shown`` fields."""
        state = sealer.open_json(self.snapshot_enc, FieldContext.of(self, "snapshot_enc"))
        return {k: v for k, v in state.items() if k in shown}


class Person(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "persons"
    __table_args__ = (Index("ix_persons_family_name_birth_date", "family_name", "birth_date"),)

    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None]
    #: The organisation that recorded the person (the data owner).
    owner_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    #: fi | sv | en | other
    preferred_language: Mapped[str | None] = mapped_column(String(5))
    #: HMAC of the normalised identity code (app/persons/identity.py): lookups only.
    identity_code_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    identity_code_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    #: Always sealed (true or false), so the column's presence does not give it away.
    non_disclosure_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)


class PersonVersion(UUIDPk, AuthoredVersion, Base):
    """One version of a person's identity: who changed it, why, through which case,
    and what it then said. Shown only to readers of that case (versions made
    outside a case, e.g. at concern intake, are shown to nobody)."""

    __tablename__ = "person_versions"
    __table_args__ = (
        UniqueConstraint("person_id", "version", name="uq_person_versions_person_version"),
    )

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    #: The case the correction was made through (None: outside any case).
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )


class PersonCaseFacts(UUIDPk, Timestamps, Versioned, Base):
    """What one case recorded about reaching a person: sealed, seen only through the case."""

    __tablename__ = "person_case_facts"
    __table_args__ = (
        UniqueConstraint("case_id", "person_id", name="uq_person_case_facts_case_person"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    #: Home address or shelter location.
    address_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    phones_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    #: The safe-contact arrangement, feared persons included.
    safe_contact_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)


class PersonCaseFactsVersion(UUIDPk, AuthoredVersion, Base):
    """One version of a case's facts about a person, with author and reason."""

    __tablename__ = "person_case_fact_versions"
    __table_args__ = (
        UniqueConstraint("facts_id", "version", name="uq_person_case_fact_versions_facts_version"),
    )

    facts_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("person_case_facts.id", ondelete="CASCADE")
    )


class Consent(UUIDPk, Timestamps, Versioned, Base):
    """A basis for sharing a person's information: consent, or a statutory basis.

    Consent names who gave it (the person, or a linked guardian), how and when,
    and for a minor whether they understood the matter. Withdrawal is a date,
    never a deletion: what was shared before stays explained.
    """

    __tablename__ = "person_consents"
    __table_args__ = (
        Index("ix_person_consents_person_id", "person_id", "scope"),
        Index("ix_person_consents_case_id", "case_id", "person_id", "scope"),
    )

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    #: The case it was given for: it authorises sharing in this case only.
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    #: For service_referral: the directory entry it was given for (None: by name only).
    service_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("service_entries.id", ondelete="RESTRICT")
    )
    #: a LegalBasis: consent, child_welfare_act_25, threat_to_life_or_health_notification
    #: or police_statutory_duty
    basis: Mapped[str] = mapped_column(String(50))
    #: marak_sharing | ankkuri_sharing | hah_sharing | service_referral
    scope: Mapped[str] = mapped_column(String(30))
    service_name: Mapped[str | None] = mapped_column(String(200))
    #: person | guardian (consent only)
    given_by: Mapped[str | None] = mapped_column(String(10))
    guardian_person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="RESTRICT")
    )
    #: A minor consenting for themselves: did they understand the matter?
    minor_has_capacity: Mapped[bool | None]
    #: written | oral (consent only)
    method: Mapped[str | None] = mapped_column(String(10))
    #: The reference and the withdrawal note are sealed under the case's key;
    #: ``*_plain`` holds text written before revision 0025 until ``keys rotate``.
    reference_plain: Mapped[str | None] = mapped_column("reference", String(200))
    reference_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
    obtained_at: Mapped[datetime]
    obtained_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    obtained_by_organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    withdrawn_at: Mapped[datetime | None]
    withdrawn_recorded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )
    withdrawal_note_plain: Mapped[str | None] = mapped_column("withdrawal_note", Text)
    withdrawal_note_enc: Mapped[Sealed | None] = mapped_column(EncryptedText)
