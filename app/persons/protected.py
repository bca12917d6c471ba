"""Sealing and opening a person's protected fields, and who may see them.

The role rules are in app/auth/policy.py (``PROTECTED_FIELD_ROLES``...); this
module applies them to the facts the caller's cases give (which of them the
caller is a member of, and which organisations own them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.auth.policy import (
    NON_DISCLOSED_ADDRESS_ROLES,
    OWN_ORGANISATION_PROTECTED_ROLES,
    PROTECTED_FIELD_ROLES,
)
from app.auth.principal import Principal
from app.crypto import FieldContext, KeyRing
from app.persons.models import Person
from app.persons.schemas import Visibility

#: API field -> the sealed column that holds it.
SEALED_COLUMNS = {
    "identity_code": "identity_code_enc",
    "address": "address_enc",
    "phones": "phones_enc",
    "safe_contact": "safe_contact_enc",
    "non_disclosure": "non_disclosure_enc",
}


@dataclass
class Protected:
    """A person's protected fields in the clear (only ever in memory)."""

    identity_code: str | None = None
    address: dict[str, Any] | None = None
    phones: list[dict[str, Any]] = field(default_factory=list)
    safe_contact: dict[str, Any] | None = None
    non_disclosure: bool = False


def open_protected(keyring: KeyRing, person: Person) -> Protected:
    def opened(name: str) -> Any:
        column = SEALED_COLUMNS[name]
        sealed = getattr(person, column)
        return (
            None if sealed is None else keyring.open_json(sealed, FieldContext.of(person, column))
        )

    return Protected(
        identity_code=opened("identity_code"),
        address=opened("address"),
        phones=opened("phones") or [],
        safe_contact=opened("safe_contact"),
        non_disclosure=bool(opened("non_disclosure")),
    )


def non_disclosed(keyring: KeyRing, person: Person) -> bool:
    """Just the turvakielto flag, for responses that show no other protected field."""
    sealed = person.non_disclosure_enc
    if sealed is None:
        return False
    return bool(keyring.open_json(sealed, FieldContext.of(person, "non_disclosure_enc")))


def seal_field(keyring: KeyRing, person: Person, name: str, value: Any) -> None:
    """Seal one protected field onto the row (``None`` clears it, except the flag)."""
    column = SEALED_COLUMNS[name]
    if name == "non_disclosure":
        value = bool(value)
    elif name == "phones":
        value = value or None
    sealed = None if value is None else keyring.seal_json(value, FieldContext.of(person, column))
    setattr(person, column, sealed)


@dataclass(frozen=True)
class Reach:
    """How the caller reaches a person: through which of their readable cases."""

    member_case_owners: frozenset[uuid.UUID]  # owner organisations of cases they are members of
    emergency_only: bool
    case_ids: frozenset[uuid.UUID] = frozenset()

    @property
    def writable(self) -> bool:
        return bool(self.member_case_owners)


def may_see_protected(principal: Principal, reach: Reach) -> bool:
    """Members whose role needs protected fields (health workers: own organisation's cases)."""
    if not reach.member_case_owners:
        return False  # emergency access is read-only and sees the basic record
    if principal.roles & PROTECTED_FIELD_ROLES:
        return True
    return bool(principal.roles & OWN_ORGANISATION_PROTECTED_ROLES) and (
        principal.organisation_id in reach.member_case_owners
    )


def may_see_non_disclosed_address(principal: Principal, reach: Reach) -> bool:
    return may_see_protected(principal, reach) and bool(
        principal.roles & NON_DISCLOSED_ADDRESS_ROLES
    )


def visibility(principal: Principal, reach: Reach, non_disclosure: bool) -> Visibility:
    if not may_see_protected(principal, reach):
        return Visibility.BASIC
    if non_disclosure and not may_see_non_disclosed_address(principal, reach):
        return Visibility.ADDRESS_WITHHELD
    return Visibility.PROTECTED
