"""Note routes. Notes are immutable: there is no PATCH or DELETE, only corrections."""

from __future__ import annotations

import uuid

from fastapi import Response

from app.auth.policy import Action
from app.cases import notes as service
from app.cases.dependencies import CaseNoteReader, CaseNoteWriter
from app.cases.schemas import NoteCreate, NoteRead
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import set_created, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["cases"])
BASE = "/cases/{case_id}/notes"


@router.get(BASE, response_model=Page[NoteRead])
async def list_notes(
    session: SessionDep,
    keyring: KeyRingDep,
    access: CaseNoteReader,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[NoteRead]:
    """The notes you may see, oldest first."""
    items, nxt = await service.list_notes(session, keyring, access, cursor, limit)
    return Page[NoteRead](items=items, next_cursor=nxt)


@router.post(BASE, response_model=NoteRead, status_code=201)
async def add_note(
    body: NoteCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: CaseNoteWriter,
    idempotency: Idempotency,
    response: Response,
) -> NoteRead:
    """Write a note, or correct one with ``corrects_id`` and ``correction_reason``."""

    async def create() -> tuple[NoteRead, uuid.UUID]:
        out = await service.add_note(session, keyring, access, body)
        set_created(response, out.version, f"/api/v1/cases/{access.case.id}/notes/{out.id}")
        return out, out.id

    async def reread(target_id: str) -> NoteRead:
        note = await service.get_note(session, access, uuid.UUID(target_id), Action.CASE_NOTE_READ)
        return tagged(
            response, note.version, await service.read_note(session, keyring, access, note)
        )

    return await create_once(
        idempotency, session, access.principal, body, response, "case_note", create, reread
    )


@router.get(BASE + "/{note_id}", response_model=NoteRead)
async def get_note(
    note_id: uuid.UUID,
    session: SessionDep,
    keyring: KeyRingDep,
    access: CaseNoteReader,
    response: Response,
) -> NoteRead:
    """One note, if its visibility lets you read it."""
    note = await service.get_note(session, access, note_id, access.action)
    return tagged(response, note.version, await service.read_note(session, keyring, access, note))
