"""Sealing and opening a person's protected fields, and who may see them.

The role rules are in app/auth/predicates.py (``may_see_protected``...); this
module applies them to the facts the caller's cases give (which of them the
caller is a member of, and which organisations own them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.auth import predicates
from app.auth.principal import Principal
from app.persons.models import Person, PersonCaseFacts
from app.persons.schemas import Visibility
from app.platform.crypto import CaseCipher, CryptoError, FieldContext, KeyRing

#: Identity fields sealed on the person (shared by every case of the person).
IDENTITY_COLUMNS = {
    "identity_code": "identity_code_enc",
    "non_disclosure": "non_disclosure_enc",
}
#: Facts sealed on one case's :class:`PersonCaseFacts` row (seen only through that case).
FACT_COLUMNS = {
    "address": "address_enc",
    "phones": "phones_enc",
    "safe_contact": "safe_contact_enc",
}
#: API field -> the sealed column that holds it.
SEALED_COLUMNS = {**IDENTITY_COLUMNS, **FACT_COLUMNS}


@dataclass
class Protected:
    """A person's protected fields in the clear (only ever in memory): the
    identity's, plus one case's facts when a case is given."""

    identity_code: str | None = None
    address: dict[str, Any] | None = None
    phones: list[dict[str, Any]] = field(default_factory=list)
    safe_contact: dict[str, Any] | None = None
    non_disclosure: bool = False


def _opened(keys: KeyRing | CaseCipher, row: Person | PersonCaseFacts, column: str) -> Any:
    sealed = getattr(row, column)
    return None if sealed is None else keys.open_json(sealed, FieldContext.of(row, column))


def _case_cipher(row: PersonCaseFacts, case: CaseCipher | None) -> CaseCipher:
    if case is None or case.case_id != row.case_id:
        raise CryptoError("a case's facts are sealed under that case's key")
    return case


def open_protected(
    keyring: KeyRing,
    person: Person,
    facts: PersonCaseFacts | None = None,
    case: CaseCipher | None = None,
) -> Protected:
    """The identity's sealed fields (field key), and ``facts`` (one case's, under
    ``case``, that case's cipher: app/casekeys/service.py) if given."""
    out = Protected(
        identity_code=_opened(keyring, person, "identity_code_enc"),
        non_disclosure=bool(_opened(keyring, person, "non_disclosure_enc")),
    )
    if facts is not None:
        cipher = _case_cipher(facts, case)
        out.address = _opened(cipher, facts, "address_enc")
        out.phones = _opened(cipher, facts, "phones_enc") or []
        out.safe_contact = _opened(cipher, facts, "safe_contact_enc")
    return out


def non_disclosed(keyring: KeyRing, person: Person) -> bool:
    """Just the turvakielto flag, for responses that show no other protected field."""
    return bool(_opened(keyring, person, "non_disclosure_enc"))


def seal_field(
    keyring: KeyRing,
    row: Person | PersonCaseFacts,
    name: str,
    value: Any,
    case: CaseCipher | None = None,
) -> None:
    """Seal one protected field onto its row (``None`` clears it, except the flag).

    Identity fields go on a :class:`Person` (field key), facts on a
    :class:`PersonCaseFacts` (under ``case``, the case's cipher).
    """
    keys: KeyRing | CaseCipher = keyring
    if isinstance(row, Person):
        column = IDENTITY_COLUMNS[name]
    else:
        column, keys = FACT_COLUMNS[name], _case_cipher(row, case)
    if name == "non_disclosure":
        value = bool(value)
    elif name == "phones":
        value = value or None
    sealed = None if value is None else keys.seal_json(value, FieldContext.of(row, column))
    setattr(row, column, sealed)


@dataclass(frozen=True)
class Reach:
    """How the caller reaches a person: through which of their readable cases."""

    member_case_owners: frozenset[uuid.UUID]  # owner organisations of cases they are members of
    emergency_only: bool
    case_ids: frozenset[uuid.UUID] = frozenset()
    #: (case id, owner organisation) of the readable cases the caller is a member of.
    member_cases: frozenset[tuple[uuid.UUID, uuid.UUID]] = frozenset()

    @property
    def writable(self) -> bool:
        return bool(self.member_case_owners)

    def in_case(self, case_id: uuid.UUID) -> Reach | None:
        """The reach through one case only (None if the caller cannot read it)."""
        if case_id not in self.case_ids:
            return None
        mine = frozenset(pair for pair in self.member_cases if pair[0] == case_id)
        return Reach(
            member_case_owners=frozenset(owner for _case, owner in mine),
            emergency_only=not mine,
            case_ids=frozenset({case_id}),
            member_cases=mine,
        )

    @classmethod
    def member_of(cls, case_id: uuid.UUID, owner: uuid.UUID) -> Reach:
        return cls(
            member_case_owners=frozenset({owner}),
            emergency_only=False,
            case_ids=frozenset({case_id}),
            member_cases=frozenset({(case_id, owner)}),
        )


def may_see_protected(principal: Principal, reach: Reach) -> bool:
    """The one rule (app/auth/predicates.py), over the cases the caller is a member of."""
    return predicates.may_see_protected(principal, reach.member_case_owners)


def may_see_non_disclosed_address(principal: Principal, reach: Reach) -> bool:
    return predicates.may_see_non_disclosed_address(principal, reach.member_case_owners)


def visibility(principal: Principal, reach: Reach, non_disclosure: bool) -> Visibility:
    if not may_see_protected(principal, reach):
        return Visibility.BASIC
    if non_disclosure and not may_see_non_disclosed_address(principal, reach):
        return Visibility.ADDRESS_WITHHELD
    return Visibility.PROTECTED
