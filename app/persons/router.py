"""Person routes. Thin: who may see whom is the dependencies' job, work is the services'.

No personal data travels in a URL: search is a POST with a body, and paths
carry only random ids.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response
from pydantic import Field, model_validator
from sqlalchemy import select

from app.audit import service as audit
from app.auth.policy import Action
from app.cases import participants
from app.cases.access import load_case_access, not_found
from app.cases.dependencies import CaseLoader
from app.cases.models import CaseParticipant
from app.cases.schemas import ParticipantRole
from app.persons import facts, search, service
from app.persons.dependencies import (
    CurrentPerson,
    NewPersonCase,
    PersonCreator,
    PersonHistoryReader,
    PersonSearcher,
    PersonUpdater,
    person_reach,
    through_case,
    visible_person_ids,
)
from app.persons.history import person_history
from app.persons.models import Person
from app.persons.protected import Reach
from app.persons.schemas import (
    AnyPersonRead,
    PersonCreated,
    PersonFields,
    PersonHistory,
    PersonSearch,
    PersonSearchResult,
    PersonUpdate,
)
from app.platform.crypto import KeyRingDep
from app.platform.db import SessionDep
from app.platform.etag import IfMatch, set_created, set_etag, tagged
from app.platform.idempotency import Idempotency, create_once
from app.platform.inputs import Input
from app.platform.routing import api_router

router = api_router(prefix="/api/v1", tags=["persons"])


class PersonCreate(Input):
    """Record a person *in a case you work on*: new (``person``) or matched
    elsewhere (``match_handle`` from a search). A person exists for you only
    through a case, so there is no person without one."""

    case_id: uuid.UUID
    role: ParticipantRole
    person: PersonFields | None = None
    match_handle: str | None = Field(default=None, min_length=20, max_length=1000)

    @model_validator(mode="after")
    def _exactly_one(self) -> PersonCreate:
        if (self.person is None) == (self.match_handle is None):
            raise ValueError("give exactly one of person and match_handle")
        return self


@router.post("/persons", response_model=PersonCreated, status_code=201)
async def create_person(
    body: PersonCreate,
    session: SessionDep,
    principal: PersonCreator,
    cases: NewPersonCase,
    keyring: KeyRingDep,
    idempotency: Idempotency,
    response: Response,
) -> PersonCreated:
    """Record a person as a participant of one of your cases.

    The response never holds protected fields (read them with GET). An
    Idempotency-Key replay re-reads the person as now (404 once out of reach).
    """
    return await create_once(
        idempotency,
        session,
        principal,
        body,
        response,
        "person",
        lambda: _create_person(body, session, cases, keyring, response),
        lambda target_id: _reread_person(body, session, principal, keyring, response, target_id),
    )


async def _create_person(
    body: PersonCreate,
    session: SessionDep,
    cases: CaseLoader,
    keyring: KeyRingDep,
    response: Response,
) -> tuple[PersonCreated, uuid.UUID]:
    access = await cases(body.case_id)
    principal = access.principal
    if body.person is not None:
        reach = Reach.member_of(access.case.id, access.case.owner_organisation_id)
        person = await service.create_person(session, keyring, principal, reach, body.person)
        # Address, phones and safe contact given here are this case's facts.
        await facts.record_initial(
            session, keyring, principal, access.case.id, person.id, body.person
        )
    else:
        assert body.match_handle is not None
        person = await search.redeem_match_handle(session, keyring, principal, body.match_handle)
        audit.record(
            session,
            principal,
            "person.match_handle.redeemed",
            "person",
            person.id,
            purpose="case work",
        )
    participant = await participants.attach_person(session, access, person, body.role)
    out = PersonCreated(
        person=service.render_basic(keyring, person),
        participant_id=participant.id,
        case_id=access.case.id,
    )
    set_created(response, person.version, f"/api/v1/persons/{person.id}")
    return out, person.id


async def _reread_person(
    body: PersonCreate,
    session: SessionDep,
    principal: PersonCreator,
    keyring: KeyRingDep,
    response: Response,
    target_id: str,
) -> PersonCreated:
    """The created answer as of now: the case through readable-cases, the person still in it."""
    action, person_id = str(Action.PERSON_READ), uuid.UUID(target_id)
    access = await load_case_access(session, principal, body.case_id, action)
    participant = await session.scalar(
        select(CaseParticipant).where(
            CaseParticipant.case_id == access.case.id,
            CaseParticipant.person_id == person_id,
            CaseParticipant.removed_at.is_(None),
        )
    )
    person = await session.get(Person, person_id) if participant is not None else None
    if participant is None or person is None:
        raise not_found(action, principal, "person", person_id)
    audit.record(
        session, principal, Action.PERSON_READ, "person", person_id, purpose=access.purpose
    )
    set_etag(response, person.version)
    return PersonCreated(
        person=service.render_basic(keyring, person),
        participant_id=participant.id,
        case_id=access.case.id,
    )


@router.get("/persons/{person_id}", response_model=AnyPersonRead)
async def get_person(
    session: SessionDep,
    access: CurrentPerson,
    keyring: KeyRingDep,
    response: Response,
    case_id: Annotated[
        uuid.UUID | None,
        Query(description="A case of yours with the person: adds the facts that case recorded."),
    ] = None,
) -> AnyPersonRead:
    """The person's identity, as your role may see it; with ``case_id``, also the
    address, phones and safe contact *that case* recorded."""
    if case_id is not None:
        access = through_case(access, case_id)
    return tagged(
        response,
        access.person.version,
        await service.read_person(session, keyring, access, case_id),
    )


@router.patch("/persons/{person_id}", response_model=AnyPersonRead)
async def correct_person(
    body: PersonUpdate,
    session: SessionDep,
    access: PersonUpdater,
    keyring: KeyRingDep,
    expected: IfMatch,
    response: Response,
) -> AnyPersonRead:
    """Correct the identity: a new version with you as author, the reason and the
    case (``case_id``) you make it through; its readers see the version."""
    access = through_case(access, body.case_id)
    out = await service.correct_person(session, keyring, access, body, expected)
    return tagged(response, access.person.version, out)


@router.get("/persons/{person_id}/history", response_model=PersonHistory)
async def get_person_history(
    session: SessionDep, access: PersonHistoryReader, keyring: KeyRingDep
) -> PersonHistory:
    """The identity's versions made through cases you can read, with author and
    reason, each shown as your role may see it."""
    return await person_history(session, keyring, access)


@router.post("/persons/search", response_model=PersonSearchResult)
async def search_persons(
    body: PersonSearch, session: SessionDep, principal: PersonSearcher, keyring: KeyRingDep
) -> PersonSearchResult:
    """Find people in your cases by identity code, or by name and birth date.

    Someone recorded only outside your cases comes back as a ``match`` handle
    (attach them to your case with POST /api/v1/persons), never as data and
    never with the case they are in.
    """
    names = (
        None
        if body.identity_code is not None
        else (body.given_name or "", body.family_name or "", body.birth_date)
    )
    found, handle, ambiguous = await search.search(
        session, keyring, principal, visible_person_ids(principal), body.identity_code, names
    )
    items = []
    for person in found:
        reach = await person_reach(session, principal, person.id)
        assert reach is not None
        items.append(service.render(keyring, principal, reach, person))
    return PersonSearchResult(items=items, match=handle, ambiguous=ambiguous)
