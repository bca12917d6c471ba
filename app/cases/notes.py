"""Notes: immutable entries, each visible to the whole case, the author's
organisation, or the author's profession.

Visibility is a filter *in the query* (:func:`visible_notes`), so a note the
caller may not see is a 404 exactly like a missing one. A correction is a new
note pointing at the old one, with a reason; it inherits the old note's
visibility, so everyone who saw the original sees the correction. Only the
author's organisation (the data owner) corrects a note.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import PROFESSIONALS, Action
from app.auth.principal import Principal, Role
from app.casekeys.freetext import open_text, seal_text
from app.casekeys.service import case_cipher
from app.cases.access import CaseAccess, not_found
from app.cases.models import CaseNote
from app.cases.schemas import NoteCreate, NoteRead, NoteVisibility
from app.platform.crypto import CaseCipher, KeyRing
from app.platform.pagination import apply_keyset, page_of
from app.platform.problems import Forbidden, denial, field_error


def visible_notes(case_id: uuid.UUID, principal: Principal) -> Select[CaseNote]:
    roles = sorted(r.value for r in principal.roles)
    return select(CaseNote).where(
        CaseNote.case_id == case_id,
        or_(
            CaseNote.visibility == NoteVisibility.CASE.value,
            CaseNote.author_id == principal.user_id,
            and_(
                CaseNote.visibility == NoteVisibility.ORGANISATION.value,
                CaseNote.author_organisation_id == principal.organisation_id,
            ),
            and_(
                CaseNote.visibility == NoteVisibility.PROFESSION.value,
                CaseNote.author_role.in_(roles),
            ),
        ),
    )


def _note_read(cipher: CaseCipher, note: CaseNote) -> NoteRead:
    """The note as the API shows it; its text opens under the case key (410 once shredded)."""
    return NoteRead(
        id=note.id,
        case_id=note.case_id,
        author_id=note.author_id,
        author_name=note.author_name,
        author_organisation_id=note.author_organisation_id,
        author_role=Role(note.author_role),
        visibility=NoteVisibility(note.visibility),
        kind=note.kind,
        text=open_text(cipher, note, "text") or "",
        corrects_id=note.corrects_id,
        correction_reason=open_text(cipher, note, "correction_reason"),
        created_at=note.created_at,
        version=note.version,
    )


async def _with_corrections(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, notes: Sequence[CaseNote]
) -> list[NoteRead]:
    if not notes:
        return []
    cipher = await case_cipher(session, keyring, access.case.id)
    ids = [n.id for n in notes]
    rows = (
        await session.execute(
            visible_notes(access.case.id, access.principal)
            .where(CaseNote.corrects_id.in_(ids))
            .with_only_columns(CaseNote.corrects_id, CaseNote.id)
            .order_by(CaseNote.created_at, CaseNote.id)
        )
    ).all()
    superseded: dict[uuid.UUID, list[uuid.UUID]] = {}
    for corrected, correction in rows:
        assert corrected is not None
        superseded.setdefault(corrected, []).append(correction)
    out = []
    for note in notes:
        read = _note_read(cipher, note)
        read.superseded_by = superseded.get(note.id, [])
        out.append(read)
    return out


async def list_notes(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, cursor: str | None, limit: int
) -> tuple[list[NoteRead], str | None]:
    stmt = apply_keyset(
        visible_notes(access.case.id, access.principal),
        CaseNote.created_at,
        CaseNote.id,
        cursor,
        limit,
        descending=False,
    )
    notes, nxt = page_of((await session.scalars(stmt)).all(), limit, "created_at")
    access.audit(session, "case.note.listed")
    return await _with_corrections(session, keyring, access, notes), nxt


async def get_note(
    session: AsyncSession, access: CaseAccess, note_id: uuid.UUID, action: str
) -> CaseNote:
    note = await session.scalar(
        visible_notes(access.case.id, access.principal).where(CaseNote.id == note_id)
    )
    if note is None:
        raise not_found(action, access.principal, "case_note", note_id)
    return note


async def read_note(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, note: CaseNote
) -> NoteRead:
    access.audit(session, Action.CASE_NOTE_READ, "case_note", note.id)
    return (await _with_corrections(session, keyring, access, [note]))[0]


def _author_role(principal: Principal, data: NoteCreate) -> Role:
    mine = sorted(principal.roles & PROFESSIONALS)
    if not mine:  # the policy row admits professionals only; refuse rather than guess
        raise Forbidden("Only professionals write notes.")
    if data.profession is not None:
        if data.profession not in mine:
            raise field_error(
                "profession",
                "You can write only as one of your own professions.",
                "not_yours",
            )
        return data.profession
    if data.visibility == NoteVisibility.PROFESSION and len(mine) > 1:
        raise field_error(
            "profession",
            "You hold several roles: say which profession may see the note.",
            "missing",
        )
    return mine[0]


async def add_note(
    session: AsyncSession, keyring: KeyRing, access: CaseAccess, data: NoteCreate
) -> NoteRead:
    principal = access.principal
    visibility = data.visibility
    author_role = _author_role(principal, data)
    if data.corrects_id is not None:
        # The corrected note is loaded through the visibility query of *this* case.
        original = await session.scalar(
            visible_notes(access.case.id, principal).where(CaseNote.id == data.corrects_id)
        )
        if original is None:
            raise field_error(
                "corrects_id",
                "No such note in this case.",
                "not_found",
                denied=denial(
                    Action.CASE_NOTE_WRITE,
                    principal,
                    "case_note",
                    data.corrects_id,
                    "note not visible",
                ),
            )
        if original.author_organisation_id != principal.organisation_id:
            raise Forbidden(
                "Only the author's organisation may correct a note.",
                denied=denial(
                    Action.CASE_NOTE_WRITE,
                    principal,
                    "case_note",
                    original.id,
                    "other organisation",
                ),
            )
        if "visibility" in data.model_fields_set and data.visibility.value != original.visibility:
            raise field_error(
                "visibility",
                "A correction keeps the visibility of the note it corrects.",
                "fixed",
            )
        visibility = NoteVisibility(original.visibility)
        if visibility == NoteVisibility.PROFESSION:
            author_role = Role(original.author_role)
    note = CaseNote(
        id=uuid.uuid4(),
        case_id=access.case.id,
        author_id=principal.user_id,
        author_name=principal.name[:200],
        author_organisation_id=principal.organisation_id,
        author_role=author_role.value,
        visibility=visibility.value,
        kind=data.kind.value,
        corrects_id=data.corrects_id,
    )
    cipher = await case_cipher(session, keyring, access.case.id, create=True)
    seal_text(cipher, note, "text", data.text)
    seal_text(cipher, note, "correction_reason", data.correction_reason)
    session.add(note)
    await session.flush()
    action = "case.note.corrected" if data.corrects_id else "case.note.created"
    audit.record(session, principal, action, "case_note", note.id, purpose=access.purpose)
    return _note_read(cipher, note)
