"""A client generated from the committed contract drives a referral end to end (CI step 7).

Not part of the default run (``norecursedirs`` skips ``tests/contract``): the
client is generated first by ``.ci/contract`` with openapi-python-client, which
must report no warning, and its folder is named in ``CASECOORD_CLIENT_DIR``.
The server is the real app under uvicorn on a free local port, on a migrated
SQLite database holding the demo data, with real signed tokens; every call goes
through the generated functions and models, never by hand.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from tests.demo_app import demo_app

CLIENT_DIR = os.environ.get("CASECOORD_CLIENT_DIR")
if not CLIENT_DIR:
    pytest.skip("CASECOORD_CLIENT_DIR is not set (run .ci/contract)", allow_module_level=True)
sys.path.insert(0, CLIENT_DIR)

from casecoord_client import AuthenticatedClient  # noqa: E402
from casecoord_client.api.cases import (  # noqa: E402
    cases_get_case,
    cases_list_participants,
    cases_search_cases,
)
from casecoord_client.api.fhir import fhir_fhir_task  # noqa: E402
from casecoord_client.api.persons import persons_list_consents  # noqa: E402
from casecoord_client.api.referrals import (  # noqa: E402
    referrals_create_referral,
    referrals_get_referral,
    referrals_list_referrals,
    referrals_transition_referral,
)
from casecoord_client.api.services import services_list_services  # noqa: E402
from casecoord_client.models import (  # noqa: E402
    CaseSearch,
    Problem,
    ProviderReferralRead,
    ReferralCreate,
    ReferralDetail,
    ReferralOutcome,
    ReferralTransitionCreate,
    ServiceType,
    SharedField,
    Status,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, dict[str, str]]]:
    app, tokens = demo_app(("police", "provider"))
    port = _free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base_url}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    yield base_url, tokens
    uv.should_exit = True
    thread.join(timeout=10)


def _ok(response: Any, status: int) -> Any:
    assert response.status_code == status, response.content
    assert not isinstance(response.parsed, Problem), response.parsed
    return response.parsed


def test_a_generated_client_takes_a_referral_from_draft_to_completed(
    server: tuple[str, dict[str, str]],
) -> None:
    base_url, tokens = server
    police = AuthenticatedClient(base_url=base_url, token=tokens["police"])
    provider = AuthenticatedClient(base_url=base_url, token=tokens["provider"])

    page = _ok(
        cases_search_cases.sync_detailed(client=police, body=CaseSearch(reference="MRK-DEMO-0001")),
        200,
    )
    case_id = page.items[0].id
    participants = _ok(cases_list_participants.sync_detailed(case_id, client=police), 200)
    victim = next(p.person.id for p in participants if p.role.value == "victim")
    consents = _ok(persons_list_consents.sync_detailed(victim, client=police), 200)
    basis = next(
        c.id
        for c in consents.items
        if c.case_id == case_id and c.active and c.scope.value == "service_referral"
    )
    services = _ok(
        services_list_services.sync_detailed(
            client=police, type_=ServiceType.VICTIM_SUPPORT, area="Helsinki"
        ),
        200,
    )
    service = next(s.id for s in services.items if s.accepts_electronic_referrals)

    body = ReferralCreate(
        subject_person_id=victim,
        service_id=service,
        basis_id=basis,
        reason="Support after the latest call-out.",
        shared_fields=[SharedField.NAME, SharedField.LANGUAGE],
    )
    created = referrals_create_referral.sync_detailed(
        case_id, client=police, body=body, idempotency_key="client-test-1"
    )
    draft = _ok(created, 201)
    assert isinstance(draft, ReferralDetail) and draft.status == Status.DRAFT
    assert created.headers["location"].endswith(str(draft.id))
    etag = created.headers["etag"]

    sent = referrals_transition_referral.sync_detailed(
        draft.id, client=police, body=ReferralTransitionCreate(to=Status.REQUESTED), if_match=etag
    )
    assert _ok(sent, 200).status == Status.REQUESTED
    etag = sent.headers["etag"]

    inbox = _ok(referrals_list_referrals.sync_detailed(client=provider), 200)
    mine = next(item for item in inbox.items if item.id == draft.id)
    assert isinstance(mine, ProviderReferralRead)  # the discriminated provider view

    for to in (Status.RECEIVED, Status.ACCEPTED, Status.IN_PROGRESS):
        moved = referrals_transition_referral.sync_detailed(
            draft.id, client=provider, body=ReferralTransitionCreate(to=to), if_match=etag
        )
        assert _ok(moved, 200).status == to
        etag = moved.headers["etag"]
    done = referrals_transition_referral.sync_detailed(
        draft.id,
        client=provider,
        body=ReferralTransitionCreate(to=Status.COMPLETED, outcome=ReferralOutcome.SERVICE_STARTED),
        if_match=etag,
    )
    assert _ok(done, 200).outcome == ReferralOutcome.SERVICE_STARTED

    # Both sides read it back through their own view; errors parse as Problem.
    full = _ok(referrals_get_referral.sync_detailed(draft.id, client=police), 200)
    assert isinstance(full, ReferralDetail)
    assert [e.to_status for e in full.history][-1] == Status.COMPLETED
    task = _ok(fhir_fhir_task.sync_detailed(draft.id, client=provider), 200)
    assert task.focus.reference == f"ServiceRequest/{draft.id}"
    denied = cases_get_case.sync_detailed(case_id, client=provider)
    assert denied.status_code == 403 and isinstance(denied.parsed, Problem)
    stale = referrals_transition_referral.sync_detailed(
        draft.id, client=police, body=ReferralTransitionCreate(to=Status.CANCELLED), if_match='"1"'
    )
    assert stale.status_code in (409, 412, 422) and isinstance(stale.parsed, Problem)
