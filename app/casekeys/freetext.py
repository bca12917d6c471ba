"""Case free text sealed under the case's data key, and the plain text of before 0021/0027.

Notes, minutes, emergency grants, the assessments' answer texts (0021), the
case's summary and closure reason, transition, invitation and exclusion
reasons, incident notes, outside assessments' references, plan versions'
summaries, contacts and measure snapshots, measures' descriptions (0024;
issue 15), the text fields of the assessments' judgement (0026) and outcome
notes (0027) are written sealed only. Rows written before those revisions
still hold plain text: the application reads it until ``casecoord keys
rotate`` seals it under the case key and empties the plaintext
(:func:`seal_legacy_text`); shredding a case empties it at once
(:func:`bury_case_text`). ``keys status`` counts what is left as
``plaintext``, per row and column (app/casekeys/plaintext.py).

Every table here is on CASE_SEALED (app/casekeys/service.py), which says how a
row finds its case, or on FIELD_SEALED: text that no case owns (a concern before
screening, a correction of a person's identity) is sealed under the field key,
moved by ``keys rotate`` the same way, and is not touched by shredding.
Revision 0025 added the referrals', concerns', consents' and versions' texts.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import JSON, ColumnElement, MetaData, Select, Table, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.casekeys.service import CASE_SEALED, FIELD_SEALED, case_cipher
from app.platform.crypto import (
    CaseCipher,
    CaseDataShredded,
    FieldContext,
    KeyRing,
    tombstone,
)

#: Free text that was stored in plain text before revision 0021: table ->
#: {legacy plaintext column: its sealed column}. The model maps the plaintext
#: column as ``<name>_plain`` and the sealed one as ``<name>_enc``; the domain
#: writes the sealed one only (:func:`seal_text`), which empties the plaintext.
LEGACY_PLAINTEXT: dict[str, dict[str, str]] = {
    "case_notes": {"text": "text_enc", "correction_reason": "correction_reason_enc"},
    "meeting_minutes": {"text": "text_enc", "reason": "reason_enc"},
    "emergency_grants": {"reason": "reason_enc", "review_note": "review_note_enc"},
    "plans": {"last_review_note": "last_review_note_enc"},
    "plan_versions": {
        "internal_note": "internal_note_enc",
        # 0024: the plan version's summary, and its JSON lists sealed whole.
        "summary": "summary_enc",
        "contacts": "contacts_enc",
        "measures_snapshot": "measures_snapshot_enc",
    },
    # Revision 0024 (the rest of the case's free text):
    "cases": {"summary": "summary_enc", "closure_reason": "closure_reason_enc"},
    "case_transitions": {"reason": "reason_enc", "no_consent_reason": "no_consent_reason_enc"},
    "case_members": {"invite_reason": "invite_reason_enc"},
    "case_exclusions": {"reason": "reason_enc"},
    "case_incidents": {"note": "note_enc"},
    "external_assessments": {"reference": "reference_enc"},
    "plan_measures": {
        "description": "description_enc",
        "outcome_note": "outcome_note_enc",  # revision 0027
    },
    # Revision 0025: under the case key ...
    "referrals": {
        "reason": "reason_enc",
        "note_to_provider": "note_to_provider_enc",
        "reason_text": "reason_text_enc",
        "outcome_text": "outcome_text_enc",
    },
    "referral_events": {"reason_text": "reason_text_enc"},
    "person_case_fact_versions": {"reason": "reason_enc"},
    "person_consents": {"reference": "reference_enc", "withdrawal_note": "withdrawal_note_enc"},
    # ... and under the field key (FIELD_SEALED: no case owns them).
    "person_versions": {"reason": "reason_enc"},
    "concerns": {
        "subject_given_name": "subject_given_name_enc",
        "subject_family_name": "subject_family_name_enc",
        "description": "description_enc",
        "decision_reason": "decision_reason_enc",
    },
}
#: JSON lists whose items held free text before 0021: table -> (JSON column,
#: sealed column, the item's key, the free-text keys). The domain keeps the rest
#: of each item in the JSON column and seals ``{key: {field: text}}`` (always,
#: ``{}`` too, so a NULL sealed column marks a row from before 0021).
LEGACY_JSON_TEXT: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "assessments": ("answers", "answer_text_enc", "item", ("source", "evidence", "note")),
}
#: JSON dicts (field -> value) whose text-kind values held free text before
#: 0026: table -> (JSON column, sealed column, the further columns the splitter
#: reads). The domain keeps the codes in the JSON column, ``null`` where a text
#: was given, and seals ``{field: text}`` (always, so a NULL sealed column marks a
#: row from before 0026). Which values are text only the row's definition knows,
#: so the owning domain registers the splitter in :data:`JSON_DICT_SPLIT` when its
#: models load (app/risk/models.py).
LEGACY_JSON_DICT_TEXT: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "assessments": ("judgement", "judgement_text_enc", ("instrument_code", "instrument_version")),
}
#: (session, the JSON dict, the further columns' values) -> (kept, texts).
DictSplit = Callable[
    [AsyncSession, dict[str, Any], tuple[Any, ...]],
    Awaitable[tuple[dict[str, Any], dict[str, Any]]],
]
JSON_DICT_SPLIT: dict[str, DictSplit] = {}
#: What sealed free text reads as, in a list that spans cases, once its case was
#: shredded: one destroyed case must not make the whole list answer 410.
SHREDDED_TEXT = "[destroyed with the case's data key]"

#: What seals a row's text: its case's cipher, or the key ring (FIELD_SEALED tables).
Sealer = CaseCipher | KeyRing
SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Progress = Callable[[int], None]
BATCH = 200


def seal_text(cipher: Sealer, row: Any, name: str, value: str | None) -> None:
    """Seal ``value`` into the row's ``<name>_enc`` under the case key (the field
    key for a FIELD_SEALED table: pass the key ring); no plaintext stays.

    The row needs its id (the associated data binds it): assign ``id=uuid4()``.
    """
    ctx = FieldContext.of(row, f"{name}_enc")
    _store(row, name, None if value is None else cipher.seal(value, ctx))


def seal_json_text(cipher: CaseCipher, row: Any, name: str, value: Any) -> None:
    """:func:`seal_text` for a JSON value (a list or a dict), sealed whole."""
    ctx = FieldContext.of(row, f"{name}_enc")
    _store(row, name, None if value is None else cipher.seal_json(value, ctx))


def _store(row: Any, name: str, sealed: Any) -> None:
    setattr(row, f"{name}_enc", sealed)
    setattr(row, f"{name}_plain", None)


def _still_plain(row: Any, name: str, shredded: bool) -> Any:
    """The value still in plain text (before ``keys rotate``); none once shredded."""
    legacy = getattr(row, f"{name}_plain")
    if legacy is not None and shredded:
        raise CaseDataShredded("This case's protected data has been destroyed.")
    return legacy


def open_json_text(cipher: CaseCipher, row: Any, name: str) -> Any:
    """:func:`open_text` for a JSON value: sealed, else still plain (410 once shredded)."""
    attr = f"{name}_enc"
    sealed = getattr(row, attr)
    if sealed is not None:
        return cipher.open_json(sealed, FieldContext.of(row, attr))
    return _still_plain(row, name, cipher.shredded)


def open_text(cipher: Sealer, row: Any, name: str, *, shredded_as: str | None = None) -> str | None:
    """The row's ``<name>``: its sealed value, else a value still in plain text
    (written before 0021 or 0025, not yet moved by ``keys rotate``).

    A shredded case answers :class:`CaseDataShredded` (its plaintext was
    emptied), or ``shredded_as`` when given (lists that span cases).
    """
    attr = f"{name}_enc"
    sealed = getattr(row, attr)
    shredded = isinstance(cipher, CaseCipher) and cipher.shredded
    if shredded and shredded_as is not None:
        return None if sealed is None and getattr(row, f"{name}_plain") is None else shredded_as
    if sealed is not None:
        return cipher.open(sealed, FieldContext.of(row, attr))
    legacy: str | None = _still_plain(row, name, shredded)
    return legacy


def read_values(
    cipher: CaseCipher, row: Any, sealed: tuple[str, ...], *, shredded_as: str | None = None
) -> dict[str, Any]:
    """The row's mapped values for a read model: its sealed text opened
    (:func:`open_texts`), the ``*_enc`` and ``*_plain`` attributes left out."""
    values = {key: getattr(row, key) for key in _shown(type(row))}
    return values | open_texts(cipher, row, sealed, shredded_as=shredded_as)


_SHOWN: dict[type, tuple[str, ...]] = {}


def _shown(model: type) -> tuple[str, ...]:
    """A mapped class's attribute names but its ``*_enc`` and ``*_plain`` ones
    (worked out once per class: every read of a sealed row asks)."""
    found = _SHOWN.get(model)
    if found is None:
        keys = model.__mapper__.columns.keys()  # type: ignore[attr-defined]
        found = _SHOWN[model] = tuple(k for k in keys if not k.endswith(("_enc", "_plain")))
    return found


def open_texts(
    cipher: Sealer, row: Any, names: tuple[str, ...], *, shredded_as: str | None = None
) -> dict[str, str | None]:
    """:func:`open_text` of each of ``names``."""
    return {name: open_text(cipher, row, name, shredded_as=shredded_as) for name in names}


def split_free_text(
    items: list[dict[str, Any]] | None, key: str, fields: tuple[str, ...]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """``items`` without their free-text ``fields``, and those texts by item key."""
    kept, texts = [], {}
    for item in items or []:
        kept.append({k: v for k, v in item.items() if k not in fields})
        found = {k: item[k] for k in fields if item.get(k) is not None}
        if found:
            texts[str(item[key])] = found
    return kept, texts


# --- rows, their case, and the legacy values ----------------------------------------------


def _with_case(metadata: MetaData, table: Table, *columns: Any) -> Select[Any]:
    """``SELECT id, case_id, *columns`` of a case-sealed table (joining its parent);
    the case is NULL for a FIELD_SEALED table."""
    if table.name in FIELD_SEALED:
        return select(table.c.id, null().label("case_id"), *columns)
    path = CASE_SEALED[table.name]
    if len(path) == 1:
        return select(table.c.id, table.c[path[0]].label("case_id"), *columns)
    parent = metadata.tables[path[1]]
    return select(table.c.id, parent.c.case_id.label("case_id"), *columns).join(
        parent, parent.c.id == table.c[path[0]]
    )


Legacy = tuple[Table, ColumnElement[bool], dict[str, Any]]


def _legacy(metadata: MetaData) -> list[Legacy]:
    """Each legacy table, the condition of its rows still holding plain text, and
    which of the three registries above names it."""
    out: list[Legacy] = []
    for name, pairs in LEGACY_PLAINTEXT.items():
        table = metadata.tables[name]
        out.append((table, or_(*(table.c[p].is_not(None) for p in pairs)), LEGACY_PLAINTEXT))
    for registry in (LEGACY_JSON_TEXT, LEGACY_JSON_DICT_TEXT):
        for name, entry in registry.items():
            table = metadata.tables[name]
            out.append((table, table.c[entry[1]].is_(None), registry))
    return out


async def _moved(
    session: AsyncSession,
    table: Table,
    registry: dict[str, Any],
    row: Any,
    cipher: Sealer | None,
) -> list[tuple[dict[str, Any], ColumnElement[bool]]]:
    """The UPDATEs that move one row's plain text under its case key (or the field
    key), or drop it (a tombstone instead) when the case was shredded (``cipher``
    None or shredded); each with the guard that the value is still plain."""
    row_id, case_id = row[0], row[1]
    shredded = cipher is None or (isinstance(cipher, CaseCipher) and cipher.shredded)
    live = None if shredded else cipher
    moves: list[tuple[dict[str, Any], ColumnElement[bool]]] = []
    if registry is LEGACY_PLAINTEXT:
        for (name, enc), value in zip(LEGACY_PLAINTEXT[table.name].items(), row[2:], strict=True):
            if value is None:
                continue
            ctx = FieldContext(table.name, row_id, enc)
            if live is None:
                fresh = tombstone(case_id)
            elif isinstance(table.c[name].type, JSON):  # a JSON list or dict, sealed whole
                fresh = live.seal_json(value, ctx)
            else:
                fresh = live.seal(value, ctx)
            moves.append(({name: None, enc: fresh}, table.c[name].is_not(None)))
        return moves
    if registry is LEGACY_JSON_DICT_TEXT:
        column, enc, further = LEGACY_JSON_DICT_TEXT[table.name]
        split = JSON_DICT_SPLIT[table.name]
        kept_dict, texts = await split(session, row[2] or {}, tuple(row[3 : 3 + len(further)]))
        ctx = FieldContext(table.name, row_id, enc)
        sealed = tombstone(case_id) if live is None else live.seal_json(texts, ctx)
        return [({column: kept_dict, enc: sealed}, table.c[enc].is_(None))]
    column, enc, key, fields = LEGACY_JSON_TEXT[table.name]
    kept, texts = split_free_text(row[2], key, fields)
    ctx = FieldContext(table.name, row_id, enc)
    fresh = tombstone(case_id) if live is None else live.seal_json(texts, ctx)
    return [({column: kept, enc: fresh}, table.c[enc].is_(None))]


def _columns(table: Table, registry: dict[str, Any]) -> list[Any]:
    if registry is LEGACY_PLAINTEXT:
        return [table.c[p] for p in LEGACY_PLAINTEXT[table.name]]
    if registry is LEGACY_JSON_DICT_TEXT:
        column, _, further = LEGACY_JSON_DICT_TEXT[table.name]
        return [table.c[column], *(table.c[c] for c in further)]
    return [table.c[LEGACY_JSON_TEXT[table.name][0]]]


async def _write(session: AsyncSession, table: Table, row_id: Any, move: Any) -> bool:
    values, guard = move
    if "updated_at" in table.c:
        values = {**values, "updated_at": table.c.updated_at}  # sealing is not an edit
    done = await session.execute(
        update(table)
        .where(table.c.id == row_id, guard)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 1) == 1)


async def bury_case_text(session: AsyncSession, metadata: MetaData, case_id: uuid.UUID) -> int:
    """Shredding: drop the case's free text still in plain text (its sealed column
    gets a tombstone, so reading it answers "shredded" like every other value).

    Call after the case key was destroyed. Returns how many rows changed.
    """
    buried = 0
    for table, still_plain, registry in _legacy(metadata):
        if table.name not in CASE_SEALED:
            continue  # under the field key: no case owns it
        columns = _columns(table, registry)
        found = _with_case(metadata, table, *columns).where(still_plain).subquery()
        rows = (await session.execute(select(found).where(found.c.case_id == case_id))).all()
        for row in rows:
            for move in await _moved(session, table, registry, row, None):
                await _write(session, table, row[0], move)
        buried += len(rows)
    return buried


async def seal_legacy_text(
    sessions: SessionFactory,
    metadata: MetaData,
    keyring: KeyRing,
    progress: Progress | None = None,
) -> tuple[dict[str, int], int]:
    """``keys rotate``: seal the plain text left under each row's case key and
    empty it, in batches that commit on their own. Each UPDATE requires the value
    to be still plain, so a row the application rewrote meanwhile is left alone.

    Returns (values sealed per table, values skipped as changed meanwhile).
    """
    sealed: dict[str, int] = {}
    skipped = 0
    for table, still_plain, registry in _legacy(metadata):
        after: uuid.UUID | None = None
        while True:
            async with sessions() as session:
                stmt = _with_case(metadata, table, *_columns(table, registry))
                stmt = stmt.where(still_plain)
                if after is not None:
                    stmt = stmt.where(table.c.id > after)
                rows = (await session.execute(stmt.order_by(table.c.id).limit(BATCH))).all()
                if not rows:
                    break
                for row in rows:
                    cipher: Sealer = keyring
                    if table.name in CASE_SEALED:
                        cipher = await case_cipher(session, keyring, row[1], create=True)
                    for move in await _moved(session, table, registry, row, cipher):
                        if await _write(session, table, row[0], move):
                            sealed[table.name] = sealed.get(table.name, 0) + 1
                        else:
                            skipped += 1
                        if progress is not None:
                            progress(1)
                await session.commit()
                after = rows[-1][0]
    return sealed, skipped
