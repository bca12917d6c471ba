"""A person's case notes and meeting minutes, for the export (GDPR art. 15).

Included for the cases that are about the person (the same rule as assessments
and plans, app/access_requests/export.py): in a Marak case the victim's notes are
the victim's; a perpetrator's export does not carry the victim's case notes.

- Police-authored notes, and minutes lines a police organisation recorded, are
  left out when police operational data is withheld on a ground; how many were
  left out is returned, so the export's audit row records it (a count, never text).
- Text is scrubbed of other people's names and identity codes (redaction.py).
- Authors appear by organisation and profession; a minutes line's ``reason``
  (why an agency chose not to share) is its own reasoning and stays out.

Note and minutes text is sealed under the case's key (app/casekeys/freetext.py)
and read through :func:`_note_text` and :func:`_minutes_text` only; a shredded
case's text reads as the shredded marker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access_requests.redaction import Scrubber
from app.access_requests.schemas import ExportMinutes, ExportNote
from app.casekeys.freetext import SHREDDED_TEXT, open_text
from app.cases.models import CaseNote
from app.plans.models import Meeting, MinutesEntry
from app.platform.crypto import CaseCipher


def _note_text(cipher: CaseCipher, note: CaseNote) -> str:
    """The note's text, opened with the case's key (the one place the export reads it)."""
    return open_text(cipher, note, "text", shredded_as=SHREDDED_TEXT) or ""


def _minutes_text(cipher: CaseCipher, entry: MinutesEntry) -> str:
    """The minutes line's text, opened with the case's key (the one place the export reads it)."""
    return open_text(cipher, entry, "text", shredded_as=SHREDDED_TEXT) or ""


@dataclass
class CaseRecords:
    notes: list[ExportNote] = field(default_factory=list)
    minutes: list[ExportMinutes] = field(default_factory=list)
    #: Police entries left out on the withholding ground (a count for the audit row).
    withheld: int = 0


async def case_records(
    session: AsyncSession,
    case_id: uuid.UUID,
    cipher: CaseCipher,
    orgs: dict[uuid.UUID, str],
    police: set[uuid.UUID],
    scrub: Scrubber,
) -> CaseRecords:
    out = CaseRecords()
    notes = (
        await session.scalars(
            select(CaseNote)
            .where(CaseNote.case_id == case_id)
            .order_by(CaseNote.created_at, CaseNote.id)
        )
    ).all()
    for note in notes:
        if note.author_organisation_id in police:
            out.withheld += 1
            continue
        out.notes.append(
            ExportNote(
                id=note.id,
                written_at=note.created_at,
                author_organisation=orgs.get(note.author_organisation_id, ""),
                author_role=note.author_role,
                kind=note.kind,
                text=scrub.text(_note_text(cipher, note)) or "",
                corrects_id=note.corrects_id,
            )
        )
    lines = (
        await session.execute(
            select(MinutesEntry, Meeting)
            .join(Meeting, Meeting.id == MinutesEntry.meeting_id)
            .where(MinutesEntry.case_id == case_id)
            .order_by(Meeting.scheduled_at, MinutesEntry.created_at, MinutesEntry.id)
        )
    ).all()
    for entry, meeting in lines:
        if entry.organisation_id in police:
            out.withheld += 1
            continue
        out.minutes.append(
            ExportMinutes(
                id=entry.id,
                meeting_id=meeting.id,
                meeting_at=meeting.scheduled_at,
                meeting_kind=meeting.kind,
                organisation=orgs.get(entry.organisation_id, ""),
                kind=entry.kind,
                information_kind=entry.information_kind,
                text=scrub.text(_minutes_text(cipher, entry)) or "",
            )
        )
    return out
