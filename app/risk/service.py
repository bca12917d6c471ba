"""Assessments: draft, complete, read, list. Services only flush; every access is audited.

A submitted assessment never changes. The case's risk changes only by a new
submission, so the list of submitted assessments *is* the history of how the
risk was judged, each pinned to the instrument version it was made with.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.casekeys.freetext import LEGACY_JSON_TEXT, split_free_text
from app.casekeys.service import case_cipher
from app.cases.access import CaseAccess
from app.cases.lifecycle import Scheme
from app.platform.clock import Clock
from app.platform.crypto import CaseCipher, CaseDataShredded, FieldContext, KeyRing
from app.platform.etag import check_version
from app.platform.language import Language
from app.platform.pagination import fetch_page
from app.platform.problems import Conflict
from app.risk import catalogue, judgement_text
from app.risk.assessment_schemas import (
    AnswerRead,
    AssessmentCreate,
    AssessmentListItem,
    AssessmentRead,
    AssessmentStatus,
    AssessmentUpdate,
    InstrumentRef,
    RepeatFlag,
)
from app.risk.config import RiskConfig
from app.risk.evaluation import apply_to_case, evaluate, revalidate, stored_payload
from app.risk.exceptions import InstrumentNotFound, InvalidAnswers
from app.risk.instruments import PublishedInstrument
from app.risk.models import Assessment
from app.risk.schemas import AnswerSet, InstrumentDefinition
from app.risk.scoring import Criterion, compute_score, marak_criteria
from app.risk.validation import ValidatedAnswers, error, validate_answers


class AssessmentSubmitted(Conflict):
    type = "assessment-submitted"
    title = "A submitted assessment cannot change"


class CaseClosed(Conflict):
    type = "case-closed"
    title = "The case is closed"


async def _pinned(session: AsyncSession, code: str, version: int) -> PublishedInstrument:
    try:
        return await catalogue.get(session, code, version)
    except InstrumentNotFound:
        raise InvalidAnswers(
            [error("instrument_version", "unknown_instrument", f"No instrument {code}@{version}.")]
        ) from None


def _draft_checks(answers: ValidatedAnswers, clock: Clock) -> int | None:
    """A draft's running score; a Marak judgement downgrade is refused already here."""
    if answers.definition.scheme == Scheme.MARAK:
        marak_criteria(answers, as_of=clock.today())  # raises JudgementDowngrade
    return compute_score(answers)


_ITEM, _TEXT_FIELDS = LEGACY_JSON_TEXT["assessments"][2:]


def _store(
    cipher: CaseCipher,
    assessment: Assessment,
    answer_set: AnswerSet,
    definition: InstrumentDefinition,
) -> None:
    """Answers (item, value) and the judgement's codes in plain JSON; their free
    text sealed under the case key."""
    answers = [a.model_dump(exclude_none=True) for a in answer_set.answers]
    assessment.answers, texts = split_free_text(answers, _ITEM, _TEXT_FIELDS)
    assessment.answer_text_enc = cipher.seal_json(
        texts, FieldContext.of(assessment, "answer_text_enc")
    )
    assessment.judgement = dict(answer_set.judgement)
    judgement_text.seal(cipher, assessment, definition)


def _answer_texts(cipher: CaseCipher, assessment: Assessment) -> dict[str, dict[str, str]]:
    """The sealed free text by item ({} for a row from before 0021: it is inline)."""
    if assessment.answer_text_enc is None:
        if cipher.shredded:
            raise CaseDataShredded("This case's protected data has been destroyed.")
        return {}
    texts: dict[str, dict[str, str]] = cipher.open_json(
        assessment.answer_text_enc, FieldContext.of(assessment, "answer_text_enc")
    )
    return texts


def _with_texts(payload: dict[str, Any], texts: dict[str, dict[str, str]]) -> dict[str, Any]:
    answers = [{**a, **texts.get(str(a.get(_ITEM)), {})} for a in payload.get("answers", [])]
    return {**payload, "answers": answers}


def answers_with_texts(cipher: CaseCipher, assessment: Assessment) -> list[dict[str, Any]]:
    """The answers with their free text, for the access export; once the case
    was shredded its texts are gone and the codes stay."""
    try:
        texts = _answer_texts(cipher, assessment)
    except CaseDataShredded:
        texts = {}
    answers: list[dict[str, Any]] = _with_texts({"answers": assessment.answers or []}, texts)[
        "answers"
    ]
    return answers


def _audit(session: AsyncSession, access: CaseAccess, action: str, assessment: Assessment) -> None:
    access.audit(session, action, "assessment", assessment.id)


async def _finish(
    session: AsyncSession,
    access: CaseAccess,
    assessment: Assessment,
    answers: ValidatedAnswers,
    clock: Clock,
    config: RiskConfig,
) -> None:
    today = clock.today()
    outcome = await evaluate(session, access.case, answers, today, config)
    assessment.status = AssessmentStatus.SUBMITTED.value
    assessment.score = outcome.score
    assessment.result = outcome.result
    assessment.risk_level = outcome.risk_level.value if outcome.risk_level else None
    assessment.referral_criteria_met = outcome.referral_criteria_met
    assessment.next_review_on = outcome.next_review_on
    assessment.assessed_on = today
    assessment.submitted_at = clock.now()
    assessment.submitted_by = access.principal.user_id
    apply_to_case(session, access.principal, access.case, outcome, Scheme(assessment.scheme))


def _refuse_on_closed(access: CaseAccess) -> None:
    if access.case.closed_at is not None:
        raise CaseClosed("A closed case is not assessed; open a new case.")


async def create(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    body: AssessmentCreate,
    clock: Clock,
    config: RiskConfig,
) -> Assessment:
    _refuse_on_closed(access)
    entry = await _pinned(session, body.instrument_code, body.instrument_version)
    definition = entry.definition
    if definition.scheme.value != access.case.scheme:
        raise InvalidAnswers(
            [
                error(
                    "instrument_code",
                    "wrong_scheme",
                    f"A {access.case.scheme} case is not assessed with a {definition.scheme} "
                    "instrument.",
                )
            ]
        )
    answer_set = AnswerSet.model_validate(body.model_dump(exclude={"submit"}))
    validated = validate_answers(definition, answer_set, complete=body.submit)
    principal = access.principal
    assessment = Assessment(
        id=uuid.uuid4(),
        case_id=access.case.id,
        instrument_code=definition.code,
        instrument_version=definition.version,
        instrument_hash=entry.content_hash,
        scheme=definition.scheme.value,
        status=AssessmentStatus.DRAFT.value,
        score=_draft_checks(validated, clock),
        assessor_id=principal.user_id,
        assessor_name=principal.name[:200],
        assessor_organisation_id=principal.organisation_id,
    )
    cipher = await case_cipher(session, keyring, access.case.id, create=True)
    _store(cipher, assessment, answer_set, definition)
    session.add(assessment)
    if body.submit:  # evaluated before the INSERT: one row, written once
        await _finish(session, access, assessment, validated, clock, config)
    await session.flush()
    _audit(session, access, "assessment.created", assessment)
    if body.submit:
        _audit(session, access, "assessment.submitted", assessment)
    return assessment


def _must_be_draft(assessment: Assessment) -> None:
    if assessment.status != AssessmentStatus.DRAFT.value:
        raise AssessmentSubmitted(
            "This assessment was submitted and cannot change; re-assess with a new one."
        )


async def update_draft(
    session: AsyncSession,
    keyring: KeyRing,
    access: CaseAccess,
    assessment: Assessment,
    body: AssessmentUpdate,
    expected_version: int,
    clock: Clock,
) -> Assessment:
    check_version(expected_version, assessment.version)
    _must_be_draft(assessment)
    _refuse_on_closed(access)
    cipher = await case_cipher(session, keyring, access.case.id, create=True)
    payload = _with_texts(stored_payload(assessment), _answer_texts(cipher, assessment))
    payload["judgement"] = judgement_text.with_texts(
        assessment.judgement, judgement_text.texts_of(cipher, assessment)
    )
    if body.answers is not None:
        payload["answers"] = [a.model_dump(exclude_none=True) for a in body.answers]
    if body.judgement is not None:
        payload["judgement"] = dict(body.judgement)
    entry = await _pinned(session, assessment.instrument_code, assessment.instrument_version)
    answer_set = AnswerSet.model_validate(payload)
    validated = validate_answers(entry.definition, answer_set, complete=False)
    _store(cipher, assessment, answer_set, entry.definition)
    assessment.score = _draft_checks(validated, clock)
    assessment.updated_at = clock.now()  # a PATCH always bumps the version
    await session.flush()
    _audit(session, access, "assessment.updated", assessment)
    return assessment


async def submit(
    session: AsyncSession,
    access: CaseAccess,
    assessment: Assessment,
    expected_version: int,
    clock: Clock,
    config: RiskConfig,
) -> Assessment:
    check_version(expected_version, assessment.version)
    _must_be_draft(assessment)
    _refuse_on_closed(access)
    entry = await _pinned(session, assessment.instrument_code, assessment.instrument_version)
    validated = validate_answers(entry.definition, stored_payload(assessment), complete=True)
    await _finish(session, access, assessment, validated, clock, config)
    await session.flush()
    _audit(session, access, "assessment.submitted", assessment)
    return assessment


# --- reading ------------------------------------------------------------------------------


def _repeat_flag(result: dict[str, Any] | None, clock: Clock) -> RepeatFlag | None:
    """The flag as of today: it lapses by itself when the 12 months are over."""
    for item in (result or {}).get("criteria", []):
        if item.get("criterion") == Criterion.REPEAT:
            facts = item.get("facts", {})
            last, until = facts.get("last_referral_on"), facts.get("flag_until")
            flagged = until is not None and clock.today().isoformat() <= until
            return RepeatFlag(flagged=flagged, last_referral_on=last, flagged_until=until)
    return None


def _answers_read(
    answers: ValidatedAnswers, texts: dict[str, dict[str, str]], language: Language
) -> list[AnswerRead]:
    definition = answers.definition
    labels = {o.code: o.label.in_language(language) for o in definition.answer_scale.options}
    out = []
    for code, answer in answers.answers.items():
        item = definition.item(code)
        assert item is not None  # validated against this definition
        text = texts.get(code, {})
        out.append(
            AnswerRead(
                item=code,
                section=item.section,
                label=item.label.in_language(language),
                value=answer.value,
                value_label=labels[answer.value],
                source=text.get("source", answer.source),
                evidence=text.get("evidence", answer.evidence),
                note=text.get("note", answer.note),
            )
        )
    return out


async def to_read(
    session: AsyncSession,
    keyring: KeyRing,
    assessment: Assessment,
    language: Language,
    clock: Clock,
) -> AssessmentRead:
    """The assessment as its pinned version displays it, re-validated on the way out.

    Its free text opens under the case key (410 once the case was shredded)."""
    cipher = await case_cipher(session, keyring, assessment.case_id)
    texts = _answer_texts(cipher, assessment)
    judgement = judgement_text.with_texts(
        assessment.judgement, judgement_text.texts_of(cipher, assessment)
    )
    answers = await revalidate(session, assessment)
    definition = answers.definition
    result = assessment.result or {}
    scheme = Scheme(assessment.scheme)
    base = AssessmentListItem.model_validate(assessment).model_dump()
    return AssessmentRead(
        **base,
        instrument=InstrumentRef(
            code=definition.code,
            version=definition.version,
            content_hash=assessment.instrument_hash,
            title=definition.title.in_language(language),
        ),
        language=language,
        answers=_answers_read(answers, texts, language),
        judgement=judgement,
        threshold=definition.scoring.threshold,
        criteria=result.get("criteria") if scheme == Scheme.MARAK and result else None,
        repeat=_repeat_flag(result, clock) if scheme == Scheme.MARAK else None,
        summary=dict(result) if scheme != Scheme.MARAK and result else None,
        assessor_id=assessment.assessor_id,
        submitted_by=assessment.submitted_by,
    )


def audit_read(session: AsyncSession, access: CaseAccess, assessment: Assessment) -> None:
    _audit(session, access, "assessment.read", assessment)


async def list_for_case(
    session: AsyncSession,
    access: CaseAccess,
    status: AssessmentStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AssessmentListItem], str | None]:
    """Oldest first: read top to bottom, it shows how the risk was judged over time."""
    stmt = select(Assessment).where(Assessment.case_id == access.case.id)
    if status is not None:
        stmt = stmt.where(Assessment.status == status.value)
    rows, nxt = await fetch_page(
        session, stmt, Assessment.created_at, Assessment.id, cursor, limit, descending=False
    )
    access.audit(session, "assessment.listed")
    return [AssessmentListItem.model_validate(r) for r in rows], nxt
