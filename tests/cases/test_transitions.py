"""Lifecycles: the tables per scheme, illegal moves, gates and the gate registry."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.lifecycle import LIFECYCLES, CaseStatus, GateContext, Gates, Scheme
from app.platform.extensions import registries_of
from tests.cases.factories import make_case
from tests.persons.factories import consenting_victim, record_person
from tests.problems import assert_problem
from tests.risk.answers import ankkuri, hah, marak
from tests.risk.factories import assess
from tests.world import Actor, World, open_case, with_etag

CONSENT = {"victim_aware": True, "consent_given": True}


async def move(
    client: httpx.AsyncClient, actor: Actor, case: dict[str, Any], **body: Any
) -> httpx.Response:
    r = await client.post(
        f"/api/v1/cases/{case['id']}/transitions",
        json=body,
        headers=with_etag(actor, f'"{case["version"]}"'),
    )
    if r.status_code == 200:
        case.update(r.json())
    return r


async def assessed(
    client: httpx.AsyncClient, actor: Actor, case: dict[str, Any], payload: dict[str, Any]
) -> None:
    """Submit an assessment (app/risk gates need one); it may change the case's ETag."""
    await assess(client, actor, case["id"], payload)
    r = await client.get(f"/api/v1/cases/{case['id']}", headers=actor.headers)
    case.update(r.json())


class TestTables:
    def test_every_scheme_uses_the_states_of_domain_md(self) -> None:
        assert {s.value for s in LIFECYCLES[Scheme.ANKKURI].states} == {
            "concern_received", "screening", "not_selected", "anchor_meeting",
            "service_referral", "follow_up", "closed",
        }  # fmt: skip
        assert {s.value for s in LIFECYCLES[Scheme.MARAK].states} == {
            "identified", "referred", "on_agenda", "meeting", "plan_active", "monitoring",
            "closed",
        }  # fmt: skip
        assert {s.value for s in LIFECYCLES[Scheme.HAH].states} == {
            "concern_reported", "screening", "assessment", "management", "monitoring", "closed",
        }  # fmt: skip

    def test_targets_stay_within_the_scheme_and_closed_is_terminal(self) -> None:
        for cycle in LIFECYCLES.values():
            for targets in cycle.transitions.values():
                assert targets <= cycle.states
            assert cycle.is_terminal(CaseStatus.CLOSED)
            assert cycle.initial in cycle.states


class TestWalks:
    async def test_marak_full_flow(self, client: httpx.AsyncClient, world: World) -> None:
        case = await open_case(client, world.police, world.marak)
        await consenting_victim(client, world.police, case["id"])
        await assessed(client, world.police, case, marak(14))
        steps: list[dict[str, Any]] = [
            {"to": "referred", "consent": CONSENT},
            {"to": "on_agenda"},
            {"to": "meeting"},
            {"to": "plan_active"},
            {"to": "monitoring"},
            {"to": "closed", "outcome": "risk_reduced", "reason": "Perpetrator in programme."},
        ]
        for step in steps:
            r = await move(client, world.police, case, **step)
            assert r.status_code == 200, r.text
            assert r.headers["etag"] == f'"{case["version"]}"'
        assert case["status"] == "closed" and case["closure_outcome"] == "risk_reduced"
        assert case["closed_at"] is not None and case["allowed_transitions"] == []
        history = await client.get(
            f"/api/v1/cases/{case['id']}/transitions", headers=world.police.headers
        )
        assert [t["to_status"] for t in history.json()] == [s["to"] for s in steps]
        assert history.json()[0]["gates"] == [
            "marak_victim_consent",
            "marak_referral_criterion_met",
        ]
        assert history.json()[0]["consent_given"] is True

    async def test_ankkuri_flow_and_not_selected(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.ankkuri)
        for step in ("screening", "anchor_meeting"):
            assert (await move(client, world.police, case, to=step)).status_code == 200
        await assessed(client, world.police, case, ankkuri())  # needed for service_referral
        for step in ("service_referral", "follow_up"):
            assert (await move(client, world.police, case, to=step)).status_code == 200
        r = await move(client, world.police, case, to="closed", outcome="referred_onward")
        assert r.status_code == 200
        other = await open_case(client, world.police, world.ankkuri)
        await move(client, world.police, other, to="screening")
        body = assert_problem(await move(client, world.police, other, to="not_selected"), 422)
        assert body["gates"][0]["gate"] == "not_selected_reason_recorded"
        r = await move(
            client, world.police, other, to="not_selected", reason="No need for support."
        )
        assert r.status_code == 200 and other["closed_at"] is not None

    async def test_hah_closes_only_on_a_documented_decision(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.hah)
        for step in ("screening", "assessment", "management", "monitoring"):
            assert (await move(client, world.police, case, to=step)).status_code == 200
        await assessed(client, world.police, case, hah(priority="low"))  # needed to close
        body = assert_problem(
            await move(client, world.police, case, to="closed", outcome="risk_low"), 422
        )
        assert [g["gate"] for g in body["gates"]] == ["hah_no_longer_a_threat_decision"]
        body = assert_problem(
            await move(
                client,
                world.police,
                case,
                to="closed",
                outcome="risk_reduced",
                reason="Decided at the review meeting.",
            ),
            422,
        )
        assert {g["gate"] for g in body["gates"]} == {
            "closure_outcome_recorded",
            "hah_no_longer_a_threat_decision",
        }
        r = await move(
            client, world.police, case, to="closed", outcome="no_longer_a_threat",
            reason="Assessment team decision 12/2026: no longer a threat.",
        )  # fmt: skip
        assert r.status_code == 200, r.text


class TestIllegal:
    async def test_illegal_transition_is_409_listing_allowed_targets(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        body = assert_problem(await move(client, world.police, case, to="meeting"), 409)
        assert body["allowed"] == ["closed", "referred"]
        assert body["from"] == "identified" and body["to"] == "meeting"

    async def test_state_of_another_scheme_is_409(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        assert_problem(await move(client, world.police, case, to="anchor_meeting"), 409)

    async def test_unknown_state_is_422(self, client: httpx.AsyncClient, world: World) -> None:
        case = await open_case(client, world.police, world.marak)
        assert_problem(await move(client, world.police, case, to="flying"), 422)

    async def test_closed_case_cannot_move(
        self, client: httpx.AsyncClient, db: AsyncSession, world: World
    ) -> None:
        made = await make_case(db, world.marak, world.police, status="closed")
        await db.commit()
        case = {"id": str(made.id), "version": made.version}
        body = assert_problem(
            await move(client, world.police, case, to="referred", consent=CONSENT), 409
        )
        assert body["allowed"] == []


class TestGates:
    async def test_marak_referral_needs_the_victims_recorded_consent(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        await assessed(client, world.police, case, marak(14))  # a criterion is met
        body = assert_problem(await move(client, world.police, case, to="referred"), 422)
        assert body["type"].endswith("/transition-gated")
        assert [g["gate"] for g in body["gates"]] == ["marak_victim_consent"]
        victim = await record_person(client, world.police, case["id"], "victim")
        # A statement on the transition is documentation, not consent: still refused.
        no_consent = {"victim_aware": True, "consent_given": False}
        with_reason = no_consent | {"no_consent_reason": "Victim too frightened; team decision."}
        assert_problem(
            await move(client, world.police, case, to="referred", consent=with_reason), 422
        )
        r = await client.post(
            f"/api/v1/persons/{victim['person']['id']}/consents",
            json={"basis": "consent", "scope": "marak_sharing", "given_by": "person",
                  "method": "oral", "case_id": case["id"]},
            headers=world.police.headers,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        r = await move(client, world.police, case, to="referred", consent=CONSENT)
        assert r.status_code == 200, r.text

    async def test_closing_needs_an_outcome_of_the_scheme(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        case = await open_case(client, world.police, world.marak)
        assert_problem(await move(client, world.police, case, to="closed"), 422)
        assert_problem(
            await move(client, world.police, case, to="closed", outcome="no_further_need"), 422
        )
        r = await move(client, world.police, case, to="closed", outcome="moved_out_of_area")
        assert r.status_code == 200

    async def test_a_higher_domain_can_register_a_gate(
        self, app: Any, client: httpx.AsyncClient, world: World
    ) -> None:
        async def no_open_referrals(ctx: GateContext) -> str | None:
            return "2 referrals are still open." if ctx.case.scheme == "marak" else None

        gates = registries_of(app).of(Gates)
        gates.register(None, CaseStatus.CLOSED, no_open_referrals)
        try:
            case = await open_case(client, world.police, world.marak)
            body = assert_problem(
                await move(client, world.police, case, to="closed", outcome="risk_reduced"), 422
            )
            assert body["gates"] == [
                {"gate": "no_open_referrals", "detail": "2 referrals are still open."}
            ]
            with pytest.raises(RuntimeError):
                gates.register(None, CaseStatus.CLOSED, no_open_referrals)
        finally:
            gates.unregister(None, CaseStatus.CLOSED, "no_open_referrals")
        assert (
            await move(client, world.police, case, to="closed", outcome="risk_reduced")
        ).status_code == 200


class TestPermissions:
    async def test_if_match_is_required(self, client: httpx.AsyncClient, world: World) -> None:
        case = await open_case(client, world.police, world.marak)
        url = f"/api/v1/cases/{case['id']}/transitions"
        assert_problem(
            await client.post(url, json={"to": "closed"}, headers=world.police.headers), 428
        )
        r = await client.post(
            url,
            json={"to": "closed", "outcome": "risk_reduced"},
            headers=with_etag(world.police, '"7"'),
        )
        assert_problem(r, 412)

    async def test_history_is_member_only(self, client: httpx.AsyncClient, world: World) -> None:
        case = await open_case(client, world.police, world.marak)
        url = f"/api/v1/cases/{case['id']}/transitions"
        assert (await client.get(url, headers=world.police.headers)).json() == []
        assert_problem(await client.get(url, headers=world.health.headers), 404)
        assert_problem(await client.get(url, headers=world.auditor.headers), 403)
