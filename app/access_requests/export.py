"""What is held about one person, within what the law lets them have (GDPR art. 15).

The export is built from the live records each time it is asked for and is
never stored. It holds the person's data and nobody else's:

- other participants of a case appear by role only, never by name;
- the parts of the safe-contact form that name other people (whom the person
  fears, who is and is not safe to talk to) are withheld (GDPR art. 15(4));
- assessments, incidents and plans are included only in cases where the
  person is the one the case protects or assesses: in a Marak case the
  victim's risk assessment is the victim's, not the perpetrator's;
- free text written by professionals (a concern's description, a referral's
  reason, an assessment's evidence) is scrubbed of the names and identity
  codes of every other person recorded in the same cases, concerns and
  consents. A name the service never recorded cannot be recognised: the
  second person who approves the request reads the export before it leaves.

Case notes and meeting minutes are included for the cases about the person
(app/access_requests/case_records.py), scrubbed the same way.

Police operational data may be withheld on a ground chosen at approval
(``withholding_ground``): then everything a police organisation recorded (cases
it owns, assessments, incidents, notes, minutes lines, referrals, concerns, and
its officers' access-report entries) is left out; the export names the ground.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.access_requests.case_records import CaseRecords, case_records
from app.access_requests.models import AccessRequest
from app.access_requests.redaction import (
    REDACTED,
    THIRD_PARTY_SAFE_CONTACT,
    Scrubber,
    other_people,
)
from app.access_requests.schemas import (
    NATIONAL_POLICE_REFERENCE,
    WITHHOLDING_REFERENCES,
    AccessExport,
    ExportAssessment,
    ExportCase,
    ExportConcern,
    ExportConsent,
    ExportFacts,
    ExportIdentity,
    ExportIncident,
    ExportMeasure,
    ExportPlan,
    ExportReferral,
    Withheld,
    legal_reference,
)
from app.auth.principal import Principal
from app.casekeys.freetext import SHREDDED_TEXT, open_text, open_texts
from app.casekeys.service import case_cipher, case_ciphers
from app.cases.models import Case, CaseParticipant
from app.concerns.models import TEXTS as CONCERN_TEXTS
from app.concerns.models import Concern
from app.directory.models import Organisation
from app.persons.access_report import AccessReport, access_report
from app.persons.models import Consent, Person, PersonCaseFacts
from app.persons.protected import open_protected
from app.plans.models import Measure, Plan, PlanVersion
from app.platform.crypto import CaseCipher, KeyRing
from app.platform.db import utcnow
from app.referrals.models import Referral, ServiceEntry
from app.risk import judgement_text
from app.risk.models import Assessment, Incident
from app.risk.service import answers_with_texts

#: The participant whom a scheme's assessments and plans are about.
SUBJECT_ROLE = {"marak": "victim", "ankkuri": "young_person", "hah": "person_of_concern"}
POLICE_KIND = "police"
NOTES = [
    "Other people in your cases are shown by their role only.",
    "Parts of the safe-contact form that name other people are not shown (GDPR art. 15(4)).",
    f"Names of other people in text written by professionals are replaced by '{REDACTED}'.",
    "Risk assessments and plans are shown for the cases in which they are about you.",
    "Case notes and meeting minutes are shown for the cases in which they are about you; "
    "their authors appear by organisation and profession.",
]


def _facts(
    keyring: KeyRing, person: Person, row: PersonCaseFacts | None, case: CaseCipher
) -> ExportFacts | None:
    """The person's facts in one case, opened with that case's key (app/casekeys);
    none once the case's key has been destroyed (crypto-shredding)."""
    if row is None or case.shredded:
        return None
    opened = open_protected(keyring, person, row, case)
    safe = opened.safe_contact
    if safe is not None:
        safe = {k: v for k, v in safe.items() if k not in THIRD_PARTY_SAFE_CONTACT}
    return ExportFacts(
        address=opened.address, phones=opened.phones, safe_contact=safe, recorded_at=row.created_at
    )


def _text(cipher: CaseCipher, row: object, name: str) -> str | None:
    """Sealed free text; a shredded case's reads as the shredded marker."""
    return open_text(cipher, row, name, shredded_as=SHREDDED_TEXT)


async def _not_by_police(
    session: AsyncSession,
    case_id: uuid.UUID,
    police: set[uuid.UUID],
    order: InstrumentedAttribute[Any],
    author: InstrumentedAttribute[Any],
) -> list[Any]:
    """The case's rows of ``order``'s table, in that order, less those whose ``author``
    (an organisation) is police (withheld)."""
    model = order.class_
    stmt = select(model).where(model.case_id == case_id).order_by(order, model.id)
    return [row for row in await session.scalars(stmt) if getattr(row, author.key) not in police]


async def _plans(
    session: AsyncSession,
    case_id: uuid.UUID,
    cipher: CaseCipher,
    orgs: dict[uuid.UUID, str],
    scrub: Scrubber,
) -> list[ExportPlan]:
    out = []
    for plan in (await session.scalars(select(Plan).where(Plan.case_id == case_id))).all():
        version = await session.scalar(
            select(PlanVersion).where(
                PlanVersion.plan_id == plan.id, PlanVersion.number == plan.current_number
            )
        )
        measures = (
            await session.scalars(
                select(Measure)
                .where(Measure.plan_id == plan.id, Measure.removed_in.is_(None))
                .order_by(Measure.created_at, Measure.id)
            )
        ).all()
        out.append(
            ExportPlan(
                id=plan.id,
                kind=plan.kind,
                version=plan.current_number,
                agreed_at=version.agreed_at if version else None,
                summary=scrub.text(_text(cipher, version, "summary")) if version else None,
                measures=[
                    ExportMeasure(
                        category=m.category,
                        description=scrub.text(_text(cipher, m, "description")) or "",
                        responsible_organisation=orgs.get(m.responsible_organisation_id, ""),
                        due_date=m.due_date,
                        status=m.status,
                    )
                    for m in measures
                ],
            )
        )
    return out


async def build_export(
    session: AsyncSession, keyring: KeyRing, principal: Principal, request: AccessRequest
) -> tuple[AccessExport, int]:
    """The export, and how many police-authored notes and minutes lines it withheld."""
    person = await session.get(Person, request.person_id)
    assert person is not None  # the foreign key cascades
    organisations = (await session.scalars(select(Organisation))).all()
    orgs = {o.id: o.code for o in organisations}
    withhold = request.withholding_ground is not None
    police = {o.id for o in organisations if o.kind == POLICE_KIND} if withhold else set()
    police_codes = {orgs[i] for i in police}

    rows = (
        await session.execute(
            select(CaseParticipant, Case)
            .join(Case, Case.id == CaseParticipant.case_id)
            .where(CaseParticipant.person_id == person.id)
            .order_by(CaseParticipant.created_at, CaseParticipant.id)
        )
    ).all()
    withheld_cases = {case.id for _p, case in rows if case.owner_organisation_id in police}
    kept = [(p, c) for p, c in rows if c.id not in withheld_cases]
    scrub = Scrubber(await other_people(session, keyring, person.id, [c.id for _p, c in rows]))

    cases = []
    withheld_entries = 0
    for participation, case in kept:
        others = (
            await session.scalars(
                select(CaseParticipant.role).where(
                    CaseParticipant.case_id == case.id, CaseParticipant.person_id != person.id
                )
            )
        ).all()
        facts = await session.scalar(
            select(PersonCaseFacts).where(
                PersonCaseFacts.case_id == case.id, PersonCaseFacts.person_id == person.id
            )
        )
        consents = (
            await session.scalars(
                select(Consent)
                .where(Consent.case_id == case.id, Consent.person_id == person.id)
                .order_by(Consent.obtained_at, Consent.id)
            )
        ).all()
        is_subject = SUBJECT_ROLE.get(case.scheme) == participation.role
        cipher = await case_cipher(session, keyring, case.id)
        assessments: list[Assessment] = []
        incidents: list[Incident] = []
        plans: list[ExportPlan] = []
        records = CaseRecords()
        if is_subject:
            records = await case_records(session, case.id, cipher, orgs, police, scrub)
            withheld_entries += records.withheld
            assessments = await _not_by_police(
                session, case.id, police, Assessment.created_at, Assessment.assessor_organisation_id
            )
            incidents = await _not_by_police(
                session, case.id, police, Incident.occurred_on, Incident.recorded_by_organisation_id
            )
            plans = await _plans(session, case.id, cipher, orgs, scrub)
        cases.append(
            ExportCase(
                case_id=case.id,
                reference=case.reference,
                scheme=case.scheme,
                status=case.status,
                role=participation.role,
                joined_at=participation.created_at,
                left_at=participation.removed_at,
                opened_at=case.created_at,
                closed_at=case.closed_at,
                other_participant_roles=sorted(others),
                facts=_facts(keyring, person, facts, cipher),
                consents=[ExportConsent.model_validate(c, from_attributes=True) for c in consents],
                assessments=[
                    ExportAssessment.model_validate(
                        {
                            **ExportAssessment.model_validate(a, from_attributes=True).model_dump(),
                            "answers": scrub.json(answers_with_texts(cipher, a)),
                            "judgement": scrub.json(judgement_text.exported(cipher, a)),
                        }
                    )
                    for a in assessments
                ],
                incidents=[
                    ExportIncident(
                        id=i.id,
                        occurred_on=i.occurred_on,
                        source=i.source,
                        police_reported=i.police_reported,
                        note=scrub.text(_text(cipher, i, "note")),
                    )
                    for i in incidents
                ],
                plans=plans,
                notes=records.notes,
                meeting_minutes=records.minutes,
            )
        )

    referrals = (
        await session.execute(
            select(Referral, ServiceEntry.name)
            .join(ServiceEntry, ServiceEntry.id == Referral.service_id)
            .where(Referral.subject_person_id == person.id)
            .order_by(Referral.created_at, Referral.id)
        )
    ).all()
    concerns = (
        await session.scalars(
            select(Concern)
            .where(Concern.person_id == person.id)
            .order_by(Concern.created_at, Concern.id)
        )
    ).all()
    referral_ciphers = await case_ciphers(session, keyring, {r.case_id for r, _ in referrals})
    report = await _access_report(session, principal, person.id, withheld_cases, police_codes)
    withheld = []
    if request.withholding_ground is not None:
        reference = legal_reference(WITHHOLDING_REFERENCES, request.withholding_ground)
        withheld.append(
            Withheld(
                category="police_operational_data",
                ground=request.withholding_ground,
                legal_reference=f"{reference}; {NATIONAL_POLICE_REFERENCE}",
            )
        )
    withheld.append(
        Withheld(
            category="safe_contact_names_of_others",
            ground="rights_and_freedoms_of_others",
            legal_reference="GDPR art. 15(4)",
        )
    )
    identity = open_protected(keyring, person)
    export = AccessExport(
        request_id=request.id,
        person_id=person.id,
        generated_at=utcnow(),
        received_on=request.received_on,
        identity=ExportIdentity(
            given_name=person.given_name,
            family_name=person.family_name,
            birth_date=person.birth_date,
            preferred_language=person.preferred_language,
            identity_code=identity.identity_code,
            non_disclosure=identity.non_disclosure,
            recorded_at=person.created_at,
        ),
        cases=cases,
        referrals=[
            ExportReferral(
                id=r.id,
                case_id=r.case_id,
                service_name=name,
                reason=scrub.text(
                    open_text(referral_ciphers[r.case_id], r, "reason", shredded_as=SHREDDED_TEXT)
                )
                or "",
                urgency=r.urgency,
                status=r.status,
                shared_fields=list(r.shared_fields),
                basis_kind=r.basis_kind,
                requested_at=r.requested_at,
                ended_at=r.ended_at,
                outcome=r.outcome,
            )
            for r, name in referrals
            if r.case_id not in withheld_cases and r.created_by_organisation_id not in police
        ],
        concerns=[
            _concern(keyring, c, scrub)
            for c in concerns
            if c.submitter_organisation_id not in police and c.case_id not in withheld_cases
        ],
        access_report=report,
        withheld=withheld,
        notes=NOTES,
    )
    return export, withheld_entries


def _concern(keyring: KeyRing, concern: Concern, scrub: Scrubber) -> ExportConcern:
    """A concern about the person, its texts opened with the field key."""
    texts = open_texts(keyring, concern, CONCERN_TEXTS)
    return ExportConcern(
        id=concern.id,
        received_at=concern.created_at,
        subject_given_name=texts["subject_given_name"] or "",
        subject_family_name=texts["subject_family_name"] or "",
        subject_birth_date=concern.subject_birth_date,
        description=scrub.text(texts["description"]) or "",
        legal_basis=concern.legal_basis,
        urgency=concern.urgency,
        status=concern.status,
        decision=concern.decision,
        decision_reason=scrub.text(texts["decision_reason"]),
    )


async def _access_report(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    withheld_cases: set[uuid.UUID],
    police_codes: set[str],
) -> AccessReport:
    """The person's access report (app/persons/access_report.py), less what is withheld."""
    participations = (
        await session.execute(
            select(CaseParticipant.id, CaseParticipant.case_id).where(
                CaseParticipant.person_id == person_id
            )
        )
    ).all()
    concerns = (
        await session.scalars(select(Concern.id).where(Concern.person_id == person_id))
    ).all()
    related = [("case_participant", p) for p, _case in participations]
    related += [("concern", c) for c in concerns]
    report = await access_report(session, principal, person_id, related, None, None)
    hidden = {str(p) for p, case in participations if case in withheld_cases}
    report.entries = [
        e
        for e in report.entries
        if e.actor_organisation not in police_codes and e.target_id not in hidden
    ]
    report.disclosures = [d for d in report.disclosures if d.organisation not in police_codes]
    return report
