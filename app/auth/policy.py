"""The one authorisation table: (role, action) -> allowed. Anything absent is denied.

Every route declares its action with ``Depends(require(Action.X))``; a test walks
``app.routes`` and fails on any route without one. Object-level rules (is the
caller a member of this case?) are *relations*: the action names the relation
it needs, and the domain's readable query enforces it, so an object the caller
may not see is a 404, never a 403.

The relation is enforced by the route's declared dependency: a loader derived
from this table (``case_access`` for a case in the path, ``body_case`` for one
in the body, see ``BODY_CASE``), marked with ``declare_relation`` (app/auth/markers.py)
so that tests/security/test_route_coverage.py can prove every route has its loader.
The loaded access object carries its action; services take it from there.
Role predicates that are not one action live beside this table, in predicates.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum

from app.auth.actions import Action as Action
from app.auth.markers import ACTION_ATTR
from app.auth.principal import CurrentPrincipal, Principal, Role
from app.platform.problems import DeniedAccess, Forbidden


class Scope(StrEnum):
    """Coarse OAuth scopes of an integration client's token (its space-separated ``scope``).

    An integration client is allowed an action only if its role is in the action's
    POLICY row *and* its token carries the action's scope in :data:`INTEGRATION_SCOPES`.
    Unknown scopes are ignored; scopes on any other principal grant nothing.
    """

    REFERRALS_READ = "referrals:read"
    REFERRALS_WRITE = "referrals:write"
    CONCERNS_WRITE = "concerns:write"
    #: The event feed (app/events).
    EVENTS_READ = "events:read"
    #: For webhook subscriptions: map each webhook action to it the same way.
    WEBHOOKS_MANAGE = "webhooks:manage"


class Relation(StrEnum):
    """The object-level relation an action needs beyond the role."""

    NONE = "none"  # the role alone decides
    OWN_ORGANISATION = "own_organisation"  # the object belongs to the caller's organisation
    TEAM_MEMBER = "team_member"  # the caller is in the object's team
    CASE_MEMBER = "case_member"  # member of the case, or holder of an active emergency grant
    CASE_WRITER = "case_writer"  # an active member (emergency grants are read-only)
    CASE_LEAD = "case_lead"  # a lead of the case, or its team's coordinator, being a member
    CASE_OUTSIDER = "case_outsider"  # not a member and no active grant (breaking the glass)
    LISTED = "listed"  # role decides; rows are filtered by the readable-cases query
    #: a reader of the referral's case, or (once sent) the receiving organisation
    REFERRAL_PARTY = "referral_party"
    #: an active member of the referral's case (the referring side)
    REFERRER = "referrer"
    #: the caller's organisation is the controller handling the object (an access
    #: request is handled by the organisation of the auditor who recorded it);
    #: another organisation's is a 404
    CONTROLLER = "controller"


R = Role
PROFESSIONALS = frozenset(
    {R.POLICE, R.SOCIAL_WORKER, R.HEALTH_WORKER, R.YOUTH_WORKER, R.VICTIM_ADVOCATE, R.COORDINATOR}
)
EVERYONE = frozenset(Role)
#: Professionals who open cases and move them along (the support person follows).
CASE_WORKERS = PROFESSIONALS - {R.VICTIM_ADVOCATE}
#: docs/DOMAIN.md section 4: break the glass is for these three professions only.
EMERGENCY_ROLES = frozenset({R.POLICE, R.SOCIAL_WORKER, R.HEALTH_WORKER})
#: Referrers, and the receiving side of a referral: a provider or its system.
RECEIVERS = PROFESSIONALS | {R.SERVICE_PROVIDER, R.INTEGRATION}

#: (action) -> (roles allowed, relation required). The single source of truth.
POLICY: dict[Action, tuple[frozenset[Role], Relation]] = {
    Action.ME_READ: (EVERYONE, Relation.NONE),
    Action.ORGANISATION_READ: (EVERYONE - {R.INTEGRATION}, Relation.NONE),
    Action.ORGANISATION_MANAGE: (frozenset({R.ADMIN}), Relation.NONE),
    Action.USER_READ: (frozenset({R.ADMIN, R.COORDINATOR, R.AUDITOR}), Relation.NONE),
    Action.USER_MANAGE: (frozenset({R.ADMIN}), Relation.NONE),
    Action.TEAM_READ: (PROFESSIONALS | {R.ADMIN, R.AUDITOR}, Relation.NONE),
    # A coordinator manages only teams of their own organisation (checked in the service).
    Action.TEAM_MANAGE: (frozenset({R.ADMIN, R.COORDINATOR}), Relation.OWN_ORGANISATION),
    Action.TEAM_MEMBER_MANAGE: (frozenset({R.ADMIN, R.COORDINATOR}), Relation.OWN_ORGANISATION),
    Action.AUDIT_READ: (frozenset({R.AUDITOR}), Relation.NONE),
    Action.AUDIT_VERIFY: (frozenset({R.AUDITOR}), Relation.NONE),
    # Cases: admins, auditors, service providers and integrations never read case
    # content. Visibility itself is the readable-cases query (app/cases/access.py).
    Action.CASE_CREATE: (CASE_WORKERS, Relation.TEAM_MEMBER),
    Action.CASE_LIST: (PROFESSIONALS, Relation.LISTED),
    Action.CASE_SEARCH: (PROFESSIONALS, Relation.LISTED),
    Action.CASE_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.CASE_UPDATE: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.CASE_TRANSITION: (CASE_WORKERS, Relation.CASE_WRITER),
    Action.CASE_MEMBER_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.CASE_MEMBER_MANAGE: (PROFESSIONALS, Relation.CASE_LEAD),
    Action.CASE_PARTICIPANT_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.CASE_PARTICIPANT_WRITE: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.CASE_NOTE_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.CASE_NOTE_WRITE: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.CASE_EMERGENCY_ACCESS: (EMERGENCY_ROLES, Relation.CASE_OUTSIDER),
    Action.CASE_EMERGENCY_GRANTS_READ: (PROFESSIONALS, Relation.CASE_LEAD),
    Action.EMERGENCY_ACCESS_READ: (frozenset({R.AUDITOR}), Relation.NONE),
    Action.EMERGENCY_ACCESS_REVIEW: (frozenset({R.AUDITOR}), Relation.NONE),
    # Instrument definitions are not personal data, but only those who assess (and the
    # admin who manages instruments) need them; no integration scope covers them.
    Action.INSTRUMENT_READ: (PROFESSIONALS | {R.ADMIN}, Relation.NONE),
    # A new (e.g. licensed) instrument version is configuration, published by an admin.
    Action.INSTRUMENT_PUBLISH: (frozenset({R.ADMIN}), Relation.NONE),
    # Risk records are case content: the case's readers read them (an emergency grant
    # included), its active members write them.
    Action.CASE_ASSESSMENT_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.CASE_ASSESSMENT_WRITE: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.CASE_INCIDENT_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.CASE_INCIDENT_WRITE: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.CASE_EXTERNAL_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.CASE_EXTERNAL_WRITE: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.CASE_EXCLUSION_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.CASE_EXCLUSION_WRITE: (PROFESSIONALS, Relation.CASE_WRITER),
    # Persons: the relation is to a case the person takes part in (app/persons/dependencies.py).
    Action.PERSON_CREATE: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.PERSON_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.PERSON_UPDATE: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.PERSON_HISTORY_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    # A case's facts about a person: the relation is to *that* case (the path's).
    Action.PERSON_FACTS_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    # Writing facts needs a role that sees them (PROTECTED_FIELD_ROLES, and health
    # workers, who see them in their own organisation's cases: app/persons/protected.py).
    Action.PERSON_FACTS_UPDATE: (
        frozenset({R.POLICE, R.SOCIAL_WORKER, R.COORDINATOR, R.VICTIM_ADVOCATE, R.HEALTH_WORKER}),
        Relation.CASE_WRITER,
    ),
    Action.PERSON_FACTS_HISTORY_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.PERSON_SEARCH: (PROFESSIONALS, Relation.LISTED),
    Action.CONSENT_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.CONSENT_WRITE: (PROFESSIONALS, Relation.CASE_WRITER),
    # The access report holds who processed the data, never the data itself.
    Action.PERSON_ACCESS_REPORT: (frozenset({R.AUDITOR}), Relation.NONE),
    # Concerns: any professional (or a municipal system with the scope) pushes one to
    # a team; the submitter follows its status, the team's members screen it.
    Action.CONCERN_SUBMIT: (PROFESSIONALS | {R.INTEGRATION}, Relation.NONE),
    Action.CONCERN_READ: (PROFESSIONALS | {R.INTEGRATION}, Relation.LISTED),
    Action.CONCERN_SCREEN: (CASE_WORKERS, Relation.TEAM_MEMBER),
    # Plans: members read and draft; agreeing freezes a version, so it takes a lead (or
    # the team's coordinator). A measure's status is further limited, in the service,
    # to members of the responsible organisation and leads.
    Action.CASE_PLAN_READ: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.CASE_PLAN_WRITE: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.CASE_PLAN_AGREE: (PROFESSIONALS, Relation.CASE_LEAD),
    Action.CASE_PLAN_DOCUMENT: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.CASE_MEASURE_STATUS: (PROFESSIONALS, Relation.CASE_WRITER),
    # Meetings belong to a Marak team; the coordinator runs them. Minutes are rows
    # of cases: each is listed to, and written by, members of its own case only.
    Action.MEETING_LIST: (PROFESSIONALS, Relation.LISTED),
    Action.MEETING_READ: (PROFESSIONALS, Relation.TEAM_MEMBER),
    Action.MEETING_MANAGE: (frozenset({R.COORDINATOR}), Relation.TEAM_MEMBER),
    Action.MINUTES_READ: (PROFESSIONALS, Relation.LISTED),
    Action.MINUTES_WRITE: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.TASKS_READ: (PROFESSIONALS | {R.AUDITOR, R.SERVICE_PROVIDER}, Relation.LISTED),
    # The service directory holds no personal data: referrers, providers and the
    # admin who manages it read it (a system, to pick a service); only the admin changes it.
    Action.SERVICE_READ: (
        PROFESSIONALS | {R.ADMIN, R.SERVICE_PROVIDER, R.INTEGRATION},
        Relation.NONE,
    ),
    Action.SERVICE_MANAGE: (frozenset({R.ADMIN}), Relation.NONE),
    # Referrals: case members refer and see everything; the receiving organisation's
    # providers (or its system, with the scope) see only what was shared with them
    # and answer. Which side may make which move is the state machine's
    # (app/referrals/states.py); anyone else gets 404.
    Action.CASE_REFERRAL_CREATE: (PROFESSIONALS, Relation.CASE_WRITER),
    Action.CASE_REFERRAL_LIST: (PROFESSIONALS, Relation.CASE_MEMBER),
    Action.REFERRAL_LIST: (RECEIVERS, Relation.LISTED),
    Action.REFERRAL_READ: (RECEIVERS, Relation.REFERRAL_PARTY),
    Action.REFERRAL_UPDATE: (PROFESSIONALS, Relation.REFERRER),
    Action.REFERRAL_TRANSITION: (RECEIVERS, Relation.REFERRAL_PARTY),
    # The event feed: ids only, each row filtered by the rule of the object it names
    # (app/events/service.py). Those who hold case work, referrals or concerns read
    # it; admins and auditors have no objects there (auditors read the audit log).
    Action.EVENTS_READ: (RECEIVERS, Relation.LISTED),
    # Webhooks (app/webhooks): an organisation's subscriptions, managed by its admin
    # or its system; another organisation's endpoint or delivery is a 404.
    Action.WEBHOOK_LIST: (frozenset({R.ADMIN, R.INTEGRATION}), Relation.LISTED),
    Action.WEBHOOK_CREATE: (frozenset({R.ADMIN, R.INTEGRATION}), Relation.NONE),
    Action.WEBHOOK_MANAGE: (frozenset({R.ADMIN, R.INTEGRATION}), Relation.OWN_ORGANISATION),
    Action.WEBHOOK_DELIVERY_LIST: (frozenset({R.ADMIN, R.INTEGRATION}), Relation.LISTED),
    Action.WEBHOOK_REDELIVER: (frozenset({R.ADMIN, R.INTEGRATION}), Relation.OWN_ORGANISATION),
    # Legal holds (app/retention): the data-protection officer (auditor) acts across
    # cases, as in reviewing emergency access, and sees ids and the hold's ground,
    # never case content; no case relation applies (a missing target is a 404).
    Action.LEGAL_HOLD_PLACE: (frozenset({R.AUDITOR}), Relation.NONE),
    Action.LEGAL_HOLD_READ: (frozenset({R.AUDITOR}), Relation.NONE),
    Action.LEGAL_HOLD_LIFT: (frozenset({R.AUDITOR}), Relation.NONE),
    # Access requests (GDPR art. 15): the data-protection officer's work, which docs/DOMAIN.md
    # section 5 gives the auditor role. Deciding takes a second auditor (four eyes, in the
    # service); the export is the one place an auditor sees case content, once approved.
    # A request belongs to the controller organisation that handles it (the recorder's):
    # only its auditors list, read, decide, extend and export it (app/access_requests/
    # dependencies.py loads it through the caller's organisation; another's is a 404).
    Action.ACCESS_REQUEST_CREATE: (frozenset({R.AUDITOR}), Relation.NONE),
    Action.ACCESS_REQUEST_LIST: (frozenset({R.AUDITOR}), Relation.LISTED),
    Action.ACCESS_REQUEST_READ: (frozenset({R.AUDITOR}), Relation.CONTROLLER),
    Action.ACCESS_REQUEST_DECIDE: (frozenset({R.AUDITOR}), Relation.CONTROLLER),
    Action.ACCESS_REQUEST_EXPORT: (frozenset({R.AUDITOR}), Relation.CONTROLLER),
}

#: The scope an integration client needs, action by action. Every action whose POLICY
#: roles include INTEGRATION has exactly one entry here (or is in SCOPE_FREE);
#: tests/security/test_integration_scopes.py walks the table and fails otherwise.
INTEGRATION_SCOPES: dict[Action, Scope] = {
    Action.SERVICE_READ: Scope.REFERRALS_READ,
    Action.REFERRAL_LIST: Scope.REFERRALS_READ,
    Action.REFERRAL_READ: Scope.REFERRALS_READ,  # the FHIR view included
    Action.REFERRAL_TRANSITION: Scope.REFERRALS_WRITE,  # accept, decline, complete...
    Action.CONCERN_SUBMIT: Scope.CONCERNS_WRITE,
    # A client reads back only concerns it submitted itself (their screening status):
    # part of writing them, so the same scope, not a separate read scope.
    Action.CONCERN_READ: Scope.CONCERNS_WRITE,
    Action.EVENTS_READ: Scope.EVENTS_READ,
    Action.WEBHOOK_LIST: Scope.WEBHOOKS_MANAGE,
    Action.WEBHOOK_CREATE: Scope.WEBHOOKS_MANAGE,
    Action.WEBHOOK_MANAGE: Scope.WEBHOOKS_MANAGE,
    Action.WEBHOOK_DELIVERY_LIST: Scope.WEBHOOKS_MANAGE,
    Action.WEBHOOK_REDELIVER: Scope.WEBHOOKS_MANAGE,
}

#: Integration actions that need no scope, and why. Only the client's own identity.
SCOPE_FREE: dict[Action, str] = {
    Action.ME_READ: "/me shows the client itself and the scopes it holds, nothing else",
}

#: Roles whose powers do not need an object relation for these actions.
RELATION_EXEMPT: dict[Action, frozenset[Role]] = {
    Action.TEAM_MANAGE: frozenset({R.ADMIN}),
    Action.TEAM_MEMBER_MANAGE: frozenset({R.ADMIN}),
}

#: Actions whose request body names a case (``case_id``) besides the object of their
#: own relation: the relation the caller needs to *that* case. A generic loader
#: resolves it, as ``case_access`` resolves a case in the path (app/cases/dependencies.py
#: for a body's case, app/persons/dependencies.py for a person through it).
BODY_CASE: dict[Action, Relation] = {
    Action.PERSON_CREATE: Relation.CASE_WRITER,
    Action.PERSON_UPDATE: Relation.CASE_WRITER,
    Action.CONSENT_WRITE: Relation.CASE_WRITER,
    Action.CONCERN_SCREEN: Relation.CASE_WRITER,
    Action.MEETING_MANAGE: Relation.CASE_WRITER,
    Action.MINUTES_WRITE: Relation.CASE_WRITER,
}


def is_allowed(principal: Principal, action: str) -> bool:
    """Role check. A client allowed only as INTEGRATION also needs the action's scope."""
    row = POLICY.get(action)  # type: ignore[call-overload]
    if row is None:
        return False
    roles, _relation = row
    granted = principal.roles & roles
    if not granted:
        return False
    if granted == {Role.INTEGRATION}:
        return scope_grants(principal.scopes, action)
    return True


def scope_grants(scopes: frozenset[str], action: str) -> bool:
    """Whether an integration client holding ``scopes`` may take ``action`` (deny by default)."""
    if action in SCOPE_FREE:
        return True
    needed = INTEGRATION_SCOPES.get(action)  # type: ignore[call-overload]
    return needed is not None and needed.value in scopes


def relation_exempt(principal: Principal, action: str) -> bool:
    return bool(principal.roles & RELATION_EXEMPT.get(action, frozenset()))  # type: ignore[call-overload]


_cache: dict[str, Callable[..., Awaitable[Principal]]] = {}


def require(action: StrEnum) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the caller must hold a role allowed for ``action``."""
    key = str(action)
    if key in _cache:
        return _cache[key]

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not is_allowed(principal, key):
            # A role in the row, yet refused: what is missing is an integration scope.
            row = POLICY.get(key)  # type: ignore[call-overload]
            scope = row is not None and bool(principal.roles & row[0])
            raise Forbidden(
                f"Your {'scopes do' if scope else 'role does'} not permit this action.",
                denied=DeniedAccess(
                    action=key, actor=principal, reason="scope" if scope else "role"
                ),
            )
        return principal

    setattr(dependency, ACTION_ATTR, key)
    dependency.__name__ = f"require_{key.replace('.', '_')}"
    _cache[key] = dependency
    return dependency
