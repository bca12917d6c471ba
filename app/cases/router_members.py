"""Case member routes: who may see the case."""

from __future__ import annotations

import uuid

from fastapi import Response

from app.auth.policy import Action
from app.cases import members as service
from app.cases.dependencies import CaseMemberManager, CaseMemberReader
from app.cases.schemas import MemberCreate, MemberRead, MemberUpdate
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_created, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["cases"])
BASE = "/cases/{case_id}/members"


@router.get(BASE, response_model=list[MemberRead])
async def list_members(
    session: SessionDep, keyring: KeyRingDep, access: CaseMemberReader
) -> list[MemberRead]:
    """Who works on the case: users and teams, with their case roles."""
    return await service.reads(
        session, keyring, access, await service.list_members(session, access)
    )


@router.post(BASE, response_model=MemberRead, status_code=201)
async def add_member(
    body: MemberCreate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: CaseMemberManager,
    idempotency: Idempotency,
    response: Response,
) -> MemberRead:
    """Admit a professional (lead or team coordinator). Outsiders need an invite reason."""

    async def create() -> tuple[MemberRead, uuid.UUID]:
        member = await service.add_member(session, keyring, access, body)
        set_created(response, member.version, f"/api/v1/cases/{access.case.id}/members/{member.id}")
        return (await service.reads(session, keyring, access, [member]))[0], member.id

    async def reread(target_id: str) -> MemberRead:
        member = await service.get_member(
            session, access, uuid.UUID(target_id), Action.CASE_MEMBER_READ
        )
        return tagged(
            response, member.version, await service.read_member(session, keyring, access, member)
        )

    return await create_once(
        idempotency, session, access.principal, body, response, "case_member", create, reread
    )


@router.get(BASE + "/{member_id}", response_model=MemberRead)
async def get_member(
    member_id: uuid.UUID,
    session: SessionDep,
    keyring: KeyRingDep,
    access: CaseMemberReader,
    response: Response,
) -> MemberRead:
    """One member of the case."""
    member = await service.get_member(session, access, member_id, access.action)
    return tagged(
        response, member.version, await service.read_member(session, keyring, access, member)
    )


@router.patch(BASE + "/{member_id}", response_model=MemberRead)
async def update_member(
    member_id: uuid.UUID,
    body: MemberUpdate,
    session: SessionDep,
    keyring: KeyRingDep,
    access: CaseMemberManager,
    expected: IfMatch,
    response: Response,
) -> MemberRead:
    """Change a member's case role. Needs If-Match; the case keeps one lead."""
    member = await service.get_member(session, access, member_id, access.action)
    member = await service.update_member(session, access, member, body, expected)
    return tagged(
        response, member.version, (await service.reads(session, keyring, access, [member]))[0]
    )


@router.delete(BASE + "/{member_id}", status_code=204, response_class=Response)
async def remove_member(
    member_id: uuid.UUID, session: SessionDep, access: CaseMemberManager, expected: IfMatch
) -> Response:
    """Remove a member at once (the record of their membership is kept)."""
    member = await service.get_member(session, access, member_id, access.action)
    await service.remove_member(session, access, member, expected)
    return Response(status_code=204)
