"""Every create accepts an Idempotency-Key (issue 14, section 6), read off app.openapi().

A POST that answers 201 creates something; a client retrying it after a lost
response must be able to send the same key. The exceptions below are guarded
otherwise, so a retry cannot create a second object.
"""

from __future__ import annotations

from typing import Any

#: (path) -> why a retry is already safe without a key.
NOT_KEYED = {
    # Guarded by If-Match: a retry carries the old version and gets 412, never a
    # second draft.
    "/api/v1/cases/{case_id}/plan/revisions": "If-Match",
    # One agenda item per (meeting, case): a retry gets 409 "already on the agenda".
    "/api/v1/meetings/{meeting_id}/agenda": "409 on a repeat",
}


def _creates(app: Any) -> dict[str, dict[str, Any]]:
    paths = app.openapi()["paths"]
    return {
        path: ops["post"]
        for path, ops in paths.items()
        if "201" in ops.get("post", {}).get("responses", {})
    }


def _headers(op: dict[str, Any]) -> set[str]:
    return {p["name"] for p in op.get("parameters", []) if p.get("in") == "header"}


def test_every_create_declares_an_idempotency_key(app: Any) -> None:
    missing = [
        path
        for path, op in _creates(app).items()
        if path not in NOT_KEYED and "Idempotency-Key" not in _headers(op)
    ]
    assert missing == []


def test_the_exceptions_are_creates_guarded_otherwise(app: Any) -> None:
    creates = _creates(app)
    for path, guard in NOT_KEYED.items():
        assert path in creates, f"{path} no longer answers 201: drop it from NOT_KEYED"
        assert "Idempotency-Key" not in _headers(creates[path]), f"{path} is keyed now"
        if guard == "If-Match":
            assert "If-Match" in _headers(creates[path])
        else:
            assert "409" in creates[path]["responses"]
