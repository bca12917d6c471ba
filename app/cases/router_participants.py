"""Participant routes: the people the case is about."""

from __future__ import annotations

import uuid

from fastapi import Response

from app.auth.policy import Action
from app.cases import participants as service
from app.cases.dependencies import CaseParticipantReader, CaseParticipantWriter
from app.cases.schemas import ParticipantCreate, ParticipantRead, ParticipantUpdate
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_created, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["cases"])
BASE = "/cases/{case_id}/participants"


@router.get(BASE, response_model=list[ParticipantRead])
async def list_participants(
    session: SessionDep, access: CaseParticipantReader, keyring: KeyRingDep
) -> list[ParticipantRead]:
    """The people in the case and their roles in it (basic fields only)."""
    rows = await service.list_participants(session, access)
    return [service.to_read(p, keyring) for p in rows]


@router.post(BASE, response_model=ParticipantRead, status_code=201)
async def add_participant(
    body: ParticipantCreate,
    session: SessionDep,
    access: CaseParticipantWriter,
    idempotency: Idempotency,
    response: Response,
    keyring: KeyRingDep,
) -> ParticipantRead:
    """Add a new person, or one you can already see (``person_id``), in a role.

    For the full person record (identity code, protected fields) use
    POST /api/v1/persons, which records the person in the case as well.
    """

    async def create() -> tuple[ParticipantRead, uuid.UUID]:
        participant = await service.add_participant(session, access, body, keyring)
        set_created(
            response,
            participant.version,
            f"/api/v1/cases/{access.case.id}/participants/{participant.id}",
        )
        return service.to_read(participant, keyring), participant.id

    async def reread(target_id: str) -> ParticipantRead:
        participant = await service.get_participant(
            session, access, uuid.UUID(target_id), Action.CASE_PARTICIPANT_READ
        )
        return tagged(
            response,
            participant.version,
            service.read_participant(session, access, participant, keyring),
        )

    return await create_once(
        idempotency, session, access.principal, body, response, "case_participant", create, reread
    )


@router.get(BASE + "/{participant_id}", response_model=ParticipantRead)
async def get_participant(
    participant_id: uuid.UUID,
    session: SessionDep,
    access: CaseParticipantReader,
    response: Response,
    keyring: KeyRingDep,
) -> ParticipantRead:
    """One participant of the case."""
    participant = await service.get_participant(session, access, participant_id, access.action)
    return tagged(
        response,
        participant.version,
        service.read_participant(session, access, participant, keyring),
    )


@router.patch(BASE + "/{participant_id}", response_model=ParticipantRead)
async def update_participant(
    participant_id: uuid.UUID,
    body: ParticipantUpdate,
    session: SessionDep,
    access: CaseParticipantWriter,
    expected: IfMatch,
    response: Response,
    keyring: KeyRingDep,
) -> ParticipantRead:
    """Change a participant's role in the case. Needs If-Match."""
    participant = await service.get_participant(session, access, participant_id, access.action)
    participant = await service.update_participant(session, access, participant, body, expected)
    return tagged(response, participant.version, service.to_read(participant, keyring))


@router.delete(BASE + "/{participant_id}", status_code=204, response_class=Response)
async def remove_participant(
    participant_id: uuid.UUID,
    session: SessionDep,
    access: CaseParticipantWriter,
    expected: IfMatch,
) -> Response:
    """Remove a person from the case. Needs If-Match."""
    participant = await service.get_participant(session, access, participant_id, access.action)
    await service.remove_participant(session, access, participant, expected)
    return Response(status_code=204)
