"""Demo referral data for ``casecoord serve --demo``: a service with a provider user,
the Marak victim's basis for service referral, and one referral already sent.

Made through the same service functions as the API (checks, sealing, audit),
so the demo shows real behaviour. Idempotent: skipped once the case has a referral.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import Action
from app.cases.access import CaseAccess
from app.cases.models import Case, CaseParticipant
from app.cases.schemas import CaseRole
from app.demo.persons import principal_of
from app.directory.models import Organisation, User
from app.persons.models import Consent
from app.platform.config import Settings
from app.platform.crypto import KeyRing
from app.platform.db import utcnow
from app.referrals import service, transitions
from app.referrals.models import Referral, ServiceEntry
from app.referrals.schemas import ReferralCreate, ReferralTransitionCreate, SharedField
from app.referrals.states import ReferralUrgency, Side, Status

#: The demo provider user works here (app/demo/seed.py).
DEMO_PROVIDER_ORG = "helsinki-victim-services"
DEMO_SERVICE = "Victim support, Helsinki (demo)"


async def seed_demo_referrals(
    session: AsyncSession, keyring: KeyRing, settings: Settings, users: dict[str, User]
) -> int:
    org = await session.scalar(select(Organisation).where(Organisation.code == DEMO_PROVIDER_ORG))
    case = await session.scalar(select(Case).where(Case.reference == "MRK-DEMO-0001"))
    if org is None or case is None:
        return 0
    created = 0
    entry = await session.scalar(select(ServiceEntry).where(ServiceEntry.name == DEMO_SERVICE))
    if entry is None:
        entry = ServiceEntry(
            provider_organisation_id=org.id,
            service_type="victim_support",
            name=DEMO_SERVICE,
            areas=["Helsinki"],
            languages=["fi", "sv", "en"],
            accepts_electronic_referrals=True,
            response_time_target_days=7,
        )
        session.add(entry)
        await session.flush()
        created += 1
    if await session.scalar(select(Referral.id).where(Referral.case_id == case.id).limit(1)):
        return created
    lead = await principal_of(session, users["police"])
    victim = await session.scalar(
        select(CaseParticipant.person_id).where(
            CaseParticipant.case_id == case.id, CaseParticipant.role == "victim"
        )
    )
    assert victim is not None
    basis = Consent(
        person_id=victim,
        case_id=case.id,
        basis="consent",
        scope="service_referral",
        given_by="person",
        method="written",
        obtained_at=utcnow(),
        obtained_by=lead.user_id,
        obtained_by_organisation_id=lead.organisation_id,
    )
    session.add(basis)
    await session.flush()
    access = CaseAccess(
        case=case, principal=lead, role=CaseRole.LEAD, grant_id=None, action=Action.CASE_CREATE
    )
    referral = await service.create_referral(
        session,
        keyring,
        access,
        ReferralCreate(
            subject_person_id=victim,
            service_id=entry.id,
            reason="Support for the victim after the latest call-out; agreed with her.",
            urgency=ReferralUrgency.URGENT,
            shared_fields=[SharedField.NAME, SharedField.PHONE, SharedField.LANGUAGE],
            note_to_provider="Call only the number marked safe to call, weekdays 10-14.",
            basis_id=basis.id,
        ),
    )
    await transitions.transition(
        session,
        keyring,
        settings,
        service.ReferralAccess(referral, lead, Side.REFERRER, access, Action.REFERRAL_TRANSITION),
        ReferralTransitionCreate(to=Status.REQUESTED),
        referral.version,
    )
    return created + 2
