"""Role predicates beside the policy table: each rule written once, here.

The table (app/auth/policy.py) says which roles may take an action; these say
what a role *is* for the rules that are not one action: who reads case content,
who answers referrals, who sees a person's protected fields. Domains apply them
to the facts they hold (the owner organisations of the cases the caller is a
member of), never restate them.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from app.auth.policy import POLICY, Action
from app.auth.principal import Principal, Role

R = Role

#: Protected person fields (identity code, address, phones, safe contact): the
#: roles that need them, as members of a case the person is in (docs/DOMAIN.md section 4).
PROTECTED_FIELD_ROLES = frozenset({R.POLICE, R.SOCIAL_WORKER, R.COORDINATOR, R.VICTIM_ADVOCATE})
#: These see protected fields only in cases their own organisation owns.
OWN_ORGANISATION_PROTECTED_ROLES = frozenset({R.HEALTH_WORKER})
#: Under turvakielto the address narrows further: those who must find or protect
#: the person (police, social work, the support person), never a meeting's chair.
NON_DISCLOSED_ADDRESS_ROLES = frozenset({R.POLICE, R.SOCIAL_WORKER, R.VICTIM_ADVOCATE})

#: Roles that answer referrals for their organisation (a provider, or its system).
PROVIDER_ROLES = frozenset({Role.SERVICE_PROVIDER, Role.INTEGRATION})


def is_case_worker(principal: Principal) -> bool:
    """A role that reads case content (the roles of ``case.read``)."""
    return bool(principal.roles & POLICY[Action.CASE_READ][0])


def is_provider(principal: Principal) -> bool:
    """A role that answers referrals sent to its organisation."""
    return bool(principal.roles & PROVIDER_ROLES)


def may_see_protected(principal: Principal, member_case_owners: Collection[uuid.UUID]) -> bool:
    """Protected fields (identity code, address, phones, safe contact), given the owner
    organisations of the cases through which the caller is an active *member*.

    No such case (emergency access only): never; it is read-only and sees the basic
    record. Roles that need the fields: always; health workers: only in cases their
    own organisation owns (DOMAIN.md section 4).
    """
    if not member_case_owners:
        return False
    if principal.roles & PROTECTED_FIELD_ROLES:
        return True
    return bool(principal.roles & OWN_ORGANISATION_PROTECTED_ROLES) and (
        principal.organisation_id in member_case_owners
    )


def may_see_non_disclosed_address(
    principal: Principal, member_case_owners: Collection[uuid.UUID]
) -> bool:
    """Under turvakielto the address narrows further (never a meeting's chair)."""
    return may_see_protected(principal, member_case_owners) and bool(
        principal.roles & NON_DISCLOSED_ADDRESS_ROLES
    )
