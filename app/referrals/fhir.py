"""A referral as FHIR R4: a ServiceRequest, and a Task whose focus is that request.

For municipal systems. Only the minimum the referrer chose to share goes out,
under the same access rules as the JSON API (a caller who may not see the
referral gets 404). The subject is a *contained* Patient carrying only the
shared values; there is no reference to our person record. The Task holds the
workflow: owner (the receiving organisation), requester, status,
statusReason and, once completed, the outcome as an output.

R4 ServiceRequest.status has no room for our finer states, so it is derived:
draft -> draft, sent and open -> active, on hold -> on-hold, completed ->
completed, rejected/failed/cancelled -> revoked. Task.status is ours, one to one.
"""

from __future__ import annotations

from typing import Any

from app.referrals.models import Referral
from app.referrals.schemas import ProviderReferralRead
from app.referrals.states import Status
from app.referrals.views import Context

FHIR_JSON = "application/fhir+json"
SYSTEM = "urn:casecoord"
CS_SERVICE_TYPE = f"{SYSTEM}:codesystem:service-type"
CS_REASON = f"{SYSTEM}:codesystem:referral-reason"
CS_OUTCOME = f"{SYSTEM}:codesystem:referral-outcome"
CS_OUTPUT = f"{SYSTEM}:codesystem:referral-output"
ID_REFERRAL = f"{SYSTEM}:referral"
ID_ORGANISATION = f"{SYSTEM}:organisation"
#: The Finnish personal identity code (hetu), as Finnish FHIR profiles name it.
ID_HETU = "urn:oid:1.2.246.21"

SERVICE_REQUEST_STATUS = {
    Status.DRAFT: "draft",
    Status.REQUESTED: "active",
    Status.RECEIVED: "active",
    Status.ACCEPTED: "active",
    Status.IN_PROGRESS: "active",
    Status.ON_HOLD: "on-hold",
    Status.COMPLETED: "completed",
    Status.REJECTED: "revoked",
    Status.FAILED: "revoked",
    Status.CANCELLED: "revoked",
}
TASK_STATUS = {s: s.value.replace("_", "-") for s in Status}


def _instant(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _org(code: str, name: str) -> dict[str, Any]:
    return {
        "type": "Organization",
        "identifier": {"system": ID_ORGANISATION, "value": code},
        "display": name,
    }


def _subject(view: ProviderReferralRead) -> dict[str, Any]:
    """A contained Patient with only what was shared."""
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "subject"}
    shared = view.shared
    if shared is None:
        return patient
    if shared.identity_code:
        patient["identifier"] = [{"system": ID_HETU, "value": shared.identity_code}]
    if shared.name:
        patient["name"] = [{"text": shared.name}]
    if shared.phones:
        patient["telecom"] = [
            {"system": "phone", "value": p.number, "use": "mobile"} for p in shared.phones
        ]
    if shared.birth_date:
        patient["birthDate"] = shared.birth_date.isoformat()
    if shared.language:
        patient["communication"] = [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": shared.language}]},
                "preferred": True,
            }
        ]
    return patient


def service_request(view: ProviderReferralRead, referral: Referral, ctx: Context) -> dict[str, Any]:
    status = Status(view.status)
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(view.id),
        "meta": {"versionId": str(view.version), "lastUpdated": _instant(referral.updated_at)},
        "contained": [_subject(view)],
        "identifier": [{"system": ID_REFERRAL, "value": str(view.id)}],
        "status": SERVICE_REQUEST_STATUS[status],
        "intent": "order",
        "category": [
            {
                "coding": [
                    {"system": "http://snomed.info/sct", "code": "3457005", "display": "Referral"}
                ]
            }
        ],
        "priority": view.urgency.value,
        "code": {
            "coding": [{"system": CS_SERVICE_TYPE, "code": ctx.service_type}],
            "text": view.service_name,
        },
        "subject": {"reference": "#subject"},
        "requester": {
            **_org(ctx.requester_code, ctx.requester_organisation),
            "display": f"{view.requester_name} ({view.requester_organisation})",
        },
        "performer": [_org(ctx.provider_code, ctx.provider_organisation)],
    }
    if view.sent_at is not None:
        resource["authoredOn"] = _instant(view.sent_at)
    if view.shared is not None and view.shared.reason:
        resource["reasonCode"] = [{"text": view.shared.reason}]
    if view.note_to_provider:
        resource["note"] = [{"text": view.note_to_provider}]
    return resource


def task(view: ProviderReferralRead, referral: Referral, ctx: Context) -> dict[str, Any]:
    status = Status(view.status)
    focus = {"reference": f"ServiceRequest/{view.id}"}
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(view.id),
        "meta": {"versionId": str(view.version), "lastUpdated": _instant(referral.updated_at)},
        "identifier": [{"system": ID_REFERRAL, "value": str(view.id)}],
        "basedOn": [focus],
        "status": TASK_STATUS[status],
        "intent": "order",
        "priority": view.urgency.value,
        "focus": focus,
        "authoredOn": _instant(referral.created_at),
        "lastModified": _instant(referral.updated_at),
        "requester": {
            **_org(ctx.requester_code, ctx.requester_organisation),
            "display": f"{view.requester_name} ({view.requester_organisation})",
        },
        "owner": _org(ctx.provider_code, ctx.provider_organisation),
    }
    if view.reason_code is not None or view.reason_text:
        reason: dict[str, Any] = {}
        if view.reason_code is not None:
            reason["coding"] = [{"system": CS_REASON, "code": view.reason_code.value}]
        if view.reason_text:
            reason["text"] = view.reason_text
        resource["statusReason"] = reason
    if view.accepted_at is not None:
        period = {"start": _instant(view.accepted_at)}
        if view.ended_at is not None:
            period["end"] = _instant(view.ended_at)
        resource["executionPeriod"] = period
    if view.response_due_at is not None:
        resource["restriction"] = {"period": {"end": _instant(view.response_due_at)}}
    if view.outcome is not None:
        outcome: dict[str, Any] = {"coding": [{"system": CS_OUTCOME, "code": view.outcome.value}]}
        if view.outcome_text:
            outcome["text"] = view.outcome_text
        resource["output"] = [
            {
                "type": {"coding": [{"system": CS_OUTPUT, "code": "outcome"}]},
                "valueCodeableConcept": outcome,
            }
        ]
    return resource
