"""The judgement's free text, sealed under the case's data key (revision 0026, issue 15).

An assessment's ``judgement`` maps field codes to values. The text-kind
fields (Marak ``judgement_reasons``, the HAH formulation, Ankkuri's summary of
needs: whatever the pinned definition declares ``text``) are typed by a person
about the client, so they are sealed in ``judgement_text_enc`` as
``{field: text}``. The plain ``judgement`` keeps the codes, dates and booleans,
and ``null`` for each text that was given: scoring and the lifecycle gates
need the codes and only *whether* a text was given (``reasons_given``, a
required field present), and they run without the case key (a gate has no
key ring). Rows from before 0026 hold their texts inline until ``keys rotate``
splits them with :func:`split_legacy` (registered in app/risk/models.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.casekeys.freetext import SHREDDED_TEXT
from app.platform.crypto import CaseCipher, CaseDataShredded, FieldContext
from app.risk.schemas import FieldKind, InstrumentDefinition

ENC = "judgement_text_enc"
#: What revalidation sees for a sealed text: the text itself was checked when it
#: was written (the pinned version cannot change), only its presence counts now.
GIVEN = "\u2026"


def split_judgement(
    definition: InstrumentDefinition | None, judgement: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The judgement with ``null`` for each text, and those texts by field.

    Without a definition (a version no longer found) every text value counts as
    free text: sealing a code too is harmless, leaving a text plain is not.
    """
    kept: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for code, value in judgement.items():
        field = definition.field(code) if definition is not None else None
        if isinstance(value, str) and (field is None or field.kind == FieldKind.TEXT):
            texts[code] = value
            kept[code] = None
        else:
            kept[code] = value
    return kept, texts


def seal(cipher: CaseCipher, assessment: Any, definition: InstrumentDefinition) -> None:
    """Seal ``assessment.judgement``'s texts (always, ``{}`` too: NULL marks a legacy row)."""
    kept, texts = split_judgement(definition, dict(assessment.judgement or {}))
    assessment.judgement = kept
    setattr(assessment, ENC, cipher.seal_json(texts, FieldContext.of(assessment, ENC)))


def texts_of(cipher: CaseCipher, assessment: Any) -> dict[str, str]:
    """The sealed texts ({} for a row from before 0026: they are inline)."""
    sealed = getattr(assessment, ENC)
    if sealed is None:
        if cipher.shredded:
            raise CaseDataShredded("This case's protected data has been destroyed.")
        return {}
    texts: dict[str, str] = cipher.open_json(sealed, FieldContext.of(assessment, ENC))
    return texts


def with_texts(judgement: dict[str, Any] | None, texts: dict[str, str]) -> dict[str, Any]:
    """The judgement as written: each ``null`` back to its text."""
    return {k: texts.get(k) if v is None else v for k, v in (judgement or {}).items()}


def for_validation(judgement: dict[str, Any] | None) -> dict[str, Any]:
    """The judgement as revalidation and scoring see it without the key."""
    return {k: GIVEN if v is None else v for k, v in (judgement or {}).items()}


def exported(cipher: CaseCipher, assessment: Any) -> dict[str, Any]:
    """For a list that spans cases: once the case was shredded each text reads
    as :data:`SHREDDED_TEXT` and the codes stay."""
    if cipher.shredded:
        return {k: SHREDDED_TEXT if v is None else v for k, v in assessment.judgement.items()}
    return with_texts(assessment.judgement, texts_of(cipher, assessment))


async def split_legacy(
    session: AsyncSession, judgement: dict[str, Any], further: tuple[Any, ...]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``keys rotate`` and shredding: split a pre-0026 judgement by its pinned version."""
    from app.risk import catalogue
    from app.risk.exceptions import InstrumentNotFound

    code, version = further
    try:
        definition: InstrumentDefinition | None = (
            await catalogue.get(session, code, version)
        ).definition
    except InstrumentNotFound:
        definition = None
    return split_judgement(definition, judgement)
