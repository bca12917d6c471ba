"""Fictional risk data for the demo cases: one completed assessment per instrument.

Seeded through the same validation and evaluation as the API, so the demo
shows exactly what the server computes (the Marak criteria, the HAH review
date, the Ankkuri summary) and the case's risk level follows from it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.casekeys.freetext import LEGACY_JSON_TEXT, seal_text, split_free_text
from app.casekeys.service import case_cipher
from app.cases.lifecycle import Scheme
from app.cases.models import Case
from app.directory.models import User
from app.platform.clock import clock
from app.platform.crypto import FieldContext, KeyRing
from app.risk import config as risk_config
from app.risk import judgement_text
from app.risk.evaluation import apply_to_case, evaluate
from app.risk.instruments import default_registry
from app.risk.models import Assessment, ExternalAssessment, Incident
from app.risk.validation import validate_answers

TEXT_FIELDS = LEGACY_JSON_TEXT["assessments"][3]

MARAK_YES = {
    "injury", "very_frightened", "what_is_feared", "isolation", "separation_past_year",
    "child_contact_conflict", "stalking_harassment", "abuse_more_often", "abuse_getting_worse",
    "control_jealousy", "threats_to_kill", "strangulation_choking", "financial_issues",
    "perpetrator_substance_mental_health", "breach_of_bail_or_orders", "criminal_history",
}  # fmt: skip
MARAK_UNKNOWN = {"sexual_abuse", "harm_to_animals"}
FROM_POLICE_RECORDS = {"breach_of_bail_or_orders", "criminal_history"}
HAH_PRESENT = {
    "fixation": "Repeated messages naming the former manager over six weeks.",
    "leakage": "Told a colleague that 'they will regret it'.",
    "personal_grievance_moral_outrage": "Dismissal in spring; describes it as a humiliation.",
    "thwarted_occupational_goals": "Unemployed since the dismissal; applications refused.",
}
ANKKURI = {
    "offending": "serious_concern",
    "substance_use": "some_concern",
    "school_education": "serious_concern",
    "family_home": "some_concern",
}


def _marak() -> dict[str, Any]:
    answers = []
    for item in default_registry().get("marak-ric", 1).definition.items:
        value = (
            "yes" if item.code in MARAK_YES else "unknown" if item.code in MARAK_UNKNOWN else "no"
        )
        answer = {"item": item.code, "value": value}
        if item.code in FROM_POLICE_RECORDS:
            answer["source"] = "Police records"
        answers.append(answer)
    return {"answers": answers, "judgement": {}}


def _hah() -> dict[str, Any]:
    answers = []
    for item in default_registry().get("hah-warning-behaviours", 1).definition.items:
        if item.code in HAH_PRESENT:
            evidence = HAH_PRESENT[item.code]
            answers.append(
                {"item": item.code, "value": "present", "evidence": evidence, "source": "Police"}
            )
        else:
            answers.append({"item": item.code, "value": "unknown"})
    judgement = {
        "priority": "moderate",
        "imminence": "low",
        "serious_harm": "moderate",
        "formulation": "A fixed grievance with leakage but no pathway behaviour so far; "
        "risk would rise with weapon interest or a plan. Review with the psychiatric nurse.",
    }
    return {"answers": answers, "judgement": judgement}


def _ankkuri() -> dict[str, Any]:
    answers = [
        {"item": item.code, "value": ANKKURI.get(item.code, "no_concern")}
        for item in default_registry().get("ankkuri-needs", 1).definition.items
    ]
    judgement = {
        "summary_need": "School attendance and peer group; first offence. Family willing.",
        "recommended_services": ["youth_services", "education"],
    }
    return {"answers": answers, "judgement": judgement}


DEMO = {  # case reference -> (assessor, instrument code, answers)
    "MRK-DEMO-0001": ("police", "marak-ric", _marak),
    "HAH-DEMO-0001": ("police", "hah-warning-behaviours", _hah),
    "ANK-DEMO-0001": ("social", "ankkuri-needs", _ankkuri),
}


async def _extras(session: AsyncSession, keyring: KeyRing, case: Case, author: User) -> None:
    """Marak: three police call-outs in 12 months. HAH: a WAVR-21 done by the clinic."""
    common = {"recorded_by": author.id, "recorded_by_organisation_id": author.organisation_id}
    cipher = await case_cipher(session, keyring, case.id, create=True)
    if case.scheme == Scheme.MARAK.value:
        for days, note in ((40, "Call-out, neighbours"), (150, "Call-out"), (300, "Call-out")):
            day = clock.today() - timedelta(days=days)
            incident = Incident(
                id=uuid.uuid4(),
                case_id=case.id,
                occurred_on=day,
                source="police",
                police_reported=True,
                **common,
            )
            seal_text(cipher, incident, "note", note)
            session.add(incident)
    if case.scheme == Scheme.HAH.value:
        record = ExternalAssessment(
            id=uuid.uuid4(),
            case_id=case.id,
            tool="wavr-21",
            assessed_on=clock.today() - timedelta(days=7),
            assessor="Forensic psychiatry clinic (demo)",
            summary_rating="moderate",
            **common,
        )
        seal_text(cipher, record, "reference", "FPK-DEMO-2026-07")
        session.add(record)
    await session.flush()


async def seed_assessments(session: AsyncSession, keyring: KeyRing, users: dict[str, User]) -> int:
    """One submitted assessment per demo case (idempotent: skipped once one exists)."""
    created = 0
    config = risk_config.current()
    for reference, (username, code, build) in DEMO.items():
        case = await session.scalar(select(Case).where(Case.reference == reference))
        if case is None or await session.scalar(
            select(Assessment.id).where(Assessment.case_id == case.id).limit(1)
        ):
            continue
        author = users[username]
        await _extras(session, keyring, case, author)
        entry = default_registry().get(code, 1)
        payload = {"instrument_code": code, "instrument_version": 1, **build()}
        answers = validate_answers(entry.definition, payload)
        outcome = await evaluate(session, case, answers, clock.today(), config)
        answers_kept, texts = split_free_text(payload["answers"], "item", TEXT_FIELDS)
        assessment = Assessment(
            id=uuid.uuid4(),
            case_id=case.id,
            instrument_code=code,
            instrument_version=1,
            instrument_hash=entry.content_hash,
            scheme=entry.definition.scheme.value,
            status="submitted",
            answers=answers_kept,
            judgement=payload["judgement"],
            score=outcome.score,
            result=outcome.result,
            risk_level=outcome.risk_level.value if outcome.risk_level else None,
            referral_criteria_met=outcome.referral_criteria_met,
            next_review_on=outcome.next_review_on,
            assessed_on=clock.today(),
            assessor_id=author.id,
            assessor_name=author.name,
            assessor_organisation_id=author.organisation_id,
            submitted_at=clock.now(),
            submitted_by=author.id,
        )
        cipher = await case_cipher(session, keyring, case.id, create=True)
        ctx = FieldContext.of(assessment, "answer_text_enc")
        assessment.answer_text_enc = cipher.seal_json(texts, ctx)
        judgement_text.seal(cipher, assessment, entry.definition)
        session.add(assessment)
        apply_to_case(session, None, case, outcome, entry.definition.scheme)
        await session.flush()
        audit.record(
            session, None, "assessment.submitted", "assessment", assessment.id, purpose="demo seed"
        )
        created += 1
    return created
