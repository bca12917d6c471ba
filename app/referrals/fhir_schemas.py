"""The JSON Schemas of the two FHIR R4 resources this service emits (app/referrals/fhir.py).

They describe the subset of ServiceRequest and Task that :mod:`app.referrals.fhir`
fills in, so the contract is typed; ``additionalProperties`` stays open, as in
FHIR, for elements a later version may add. The tests also validate every
resource against the full R4 models of ``fhir.resources``.
"""

from __future__ import annotations

from typing import Any

from app.referrals.fhir import SERVICE_REQUEST_STATUS, TASK_STATUS

_STR = {"type": "string"}


def _component(name: str, **properties: Any) -> dict[str, Any]:
    """A named schema: the contract lists it once under components (x-component)."""
    return {"title": name, "x-component": True, "type": "object", "properties": properties}


_CODING = _component("FhirCoding", system=_STR, code=_STR, display=_STR)
_CONCEPT = _component("FhirCodeableConcept", coding={"type": "array", "items": _CODING}, text=_STR)
_IDENTIFIER = _component("FhirIdentifier", system=_STR, value=_STR)
_REFERENCE = _component(
    "FhirReference", reference=_STR, type=_STR, identifier=_IDENTIFIER, display=_STR
)
_META = _component("FhirMeta", versionId=_STR, lastUpdated=_STR)
_PERIOD = _component("FhirPeriod", start=_STR, end=_STR)
_TEXT = {"type": "array", "items": _component("FhirAnnotation", text=_STR)}
_PRIORITY = {"type": "string", "enum": ["routine", "urgent", "asap", "stat"]}


def _resource(name: str, statuses: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "title": f"Fhir{name}",
        "x-component": True,
        "description": f"A FHIR R4 {name} (the elements this service fills in).",
        "type": "object",
        "required": ["resourceType", "id", "status", "intent"],
        "properties": {
            "resourceType": {"type": "string", "enum": [name]},
            "id": _STR,
            "meta": _META,
            "identifier": {"type": "array", "items": _IDENTIFIER},
            "status": {"type": "string", "enum": statuses},
            "intent": {"type": "string", "enum": ["order"]},
            "priority": _PRIORITY,
            "authoredOn": _STR,
            "requester": _REFERENCE,
            **properties,
        },
        "additionalProperties": True,
    }


SERVICE_REQUEST = _resource(
    "ServiceRequest",
    sorted(set(SERVICE_REQUEST_STATUS.values())),
    contained={"type": "array", "items": {"type": "object", "additionalProperties": True}},
    category={"type": "array", "items": _CONCEPT},
    code=_CONCEPT,
    subject=_REFERENCE,
    performer={"type": "array", "items": _REFERENCE},
    reasonCode={"type": "array", "items": _CONCEPT},
    note=_TEXT,
)
TASK = _resource(
    "Task",
    sorted(set(TASK_STATUS.values())),
    basedOn={"type": "array", "items": _REFERENCE},
    focus=_REFERENCE,
    lastModified=_STR,
    owner=_REFERENCE,
    statusReason=_CONCEPT,
    executionPeriod=_PERIOD,
    restriction=_component("FhirTaskRestriction", period=_PERIOD),
    output={
        "type": "array",
        "items": _component("FhirTaskOutput", type=_CONCEPT, valueCodeableConcept=_CONCEPT),
    },
)
