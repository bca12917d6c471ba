"""Small builders for answer sets of the shipped instruments."""

from __future__ import annotations

from typing import Any

from app.risk.instruments import default_registry
from app.risk.schemas import InstrumentDefinition


def definition(code: str, version: int = 1) -> InstrumentDefinition:
    return default_registry().get(code, version).definition


def marak(yes: int = 0, **judgement: Any) -> dict[str, Any]:
    """A complete marak-ric@1 answer set with ``yes`` yes-answers, the rest no/unknown."""
    items = definition("marak-ric").items
    answers = [
        {"item": item.code, "value": "yes" if i < yes else ("no" if i % 2 else "unknown")}
        for i, item in enumerate(items)
    ]
    return {
        "instrument_code": "marak-ric",
        "instrument_version": 1,
        "answers": answers,
        "judgement": judgement,
    }


def hah(**judgement: Any) -> dict[str, Any]:
    items = definition("hah-warning-behaviours").items
    return {
        "instrument_code": "hah-warning-behaviours",
        "instrument_version": 1,
        "answers": [
            {"item": item.code, "value": "absent", "evidence": "Not seen.", "source": "police"}
            for item in items
        ],
        "judgement": {
            "priority": "moderate",
            "imminence": "low",
            "serious_harm": "moderate",
            "formulation": "Grievance without a pathway so far.",
            **judgement,
        },
    }


def ankkuri(**judgement: Any) -> dict[str, Any]:
    items = definition("ankkuri-needs").items
    return {
        "instrument_code": "ankkuri-needs",
        "instrument_version": 1,
        "answers": [{"item": item.code, "value": "some_concern", "note": "n"} for item in items],
        "judgement": {"summary_need": "Support at school.", **judgement},
    }
