"""Every instrument version the service knows: shipped files plus versions published later.

A deployment with a licence (THL's Finnish Marak form, say) publishes the
official wording as a new version through ``POST /api/v1/instruments``
without a code change. Such a version obeys the same rules as a shipped one:
the same schema and scheme contract, a content hash fixed at publication, and
no change afterwards -- the row is re-checked against its hash whenever it is
read, and a ``code@version`` can be neither re-published nor shadow a file.

The database, not a cache, decides which stored versions exist (several
processes serve one database). Parsed definitions are cached by content
hash, which is safe because a hash names exactly one content.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.platform.clock import clock
from app.platform.problems import Conflict, field_error
from app.risk.exceptions import ImmutableVersionChanged, InstrumentDefinitionError
from app.risk.instruments import (
    InstrumentRegistry,
    PublishedInstrument,
    content_hash,
    default_registry,
    key_name,
)
from app.risk.models import StoredInstrument
from app.risk.schemas import InstrumentDefinition
from app.risk.scoring import contract_errors

_parsed: dict[str, InstrumentDefinition] = {}


class VersionExists(Conflict):
    type = "instrument-version-exists"
    title = "This instrument version is already published"


def _from_row(row: StoredInstrument) -> PublishedInstrument:
    """The stored definition, after proving it is still what was published."""
    definition = _parsed.get(row.content_hash)
    if definition is None:
        try:
            definition = InstrumentDefinition.model_validate(row.definition)
        except ValueError as exc:
            raise InstrumentDefinitionError(f"{key_name(row.code, row.version)}: {exc}") from exc
        actual = content_hash(definition)
        if actual != row.content_hash or definition.key != (row.code, row.version):
            raise ImmutableVersionChanged(
                f"stored {key_name(row.code, row.version)} no longer matches its published hash"
            )
        _parsed[row.content_hash] = definition
    return PublishedInstrument(definition, row.content_hash)


async def get(session: AsyncSession, code: str, version: int) -> PublishedInstrument:
    """One version, shipped or stored (404 ``instrument-not-found`` if neither)."""
    registry = default_registry()
    if (code, version) in registry:
        return registry.get(code, version)
    row = await session.scalar(
        select(StoredInstrument).where(
            StoredInstrument.code == code, StoredInstrument.version == version
        )
    )
    if row is None:
        return registry.get(code, version)  # raises InstrumentNotFound
    return _from_row(row)


async def registry(session: AsyncSession) -> InstrumentRegistry:
    """Shipped and stored versions together, in ``(code, version)`` order."""
    merged = InstrumentRegistry()
    shipped = default_registry()
    for entry in shipped:
        merged.add(entry.definition, entry.content_hash)
    rows = await session.scalars(
        select(StoredInstrument).order_by(StoredInstrument.code, StoredInstrument.version)
    )
    for row in rows:
        if (row.code, row.version) not in shipped:
            entry = _from_row(row)
            merged.add(entry.definition, entry.content_hash)
    return merged


async def publish(
    session: AsyncSession, principal: Principal, definition: InstrumentDefinition
) -> PublishedInstrument:
    """Publish a new version. Its content is frozen from here on."""
    name = key_name(*definition.key)
    problems = contract_errors(definition)
    if problems:
        raise field_error("body", f"{name}: " + "; ".join(problems), "scheme_contract")
    existing = await registry(session)
    if definition.key in existing:
        raise VersionExists(
            f"{name} is already published and cannot change; publish a new version number."
        )
    schemes = {e.definition.scheme for e in existing if e.definition.code == definition.code}
    if schemes and definition.scheme not in schemes:
        raise field_error(
            "scheme",
            f"Earlier versions of {definition.code} belong to {sorted(schemes)[0]}.",
            "scheme_changed",
        )
    digest = content_hash(definition)
    row = StoredInstrument(
        code=definition.code,
        version=definition.version,
        scheme=definition.scheme.value,
        definition=definition.model_dump(mode="json", exclude_unset=True),
        content_hash=digest,
        published_by=principal.user_id,
        published_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    audit.record(session, principal, "instrument.published", "instrument_definition", row.id)
    _parsed[digest] = definition
    return PublishedInstrument(definition, digest)
