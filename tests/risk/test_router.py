"""GET /api/v1/instruments and /api/v1/instruments/{code}/{version}: allow and deny."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.auth.policy import Action, Scope
from app.platform.language import Language
from app.risk import router as risk_router
from app.risk.dependencies import negotiate_language
from app.risk.exceptions import InstrumentDefinitionError
from tests.problems import assert_problem
from tests.world import allowed, denied

LIST = "/api/v1/instruments"
MARAK = "/api/v1/instruments/marak-ric/1"
ALLOWED = allowed(Action.INSTRUMENT_READ)
DENIED = denied(Action.INSTRUMENT_READ)


class TestListInstruments:
    @pytest.mark.parametrize("role", ALLOWED)
    async def test_assessing_roles_and_admin_may_list(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        actor = await make_actor(role)
        r = await client.get(LIST, headers=actor.headers)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [(i["code"], i["version"]) for i in items] == [
            ("ankkuri-needs", 1),
            ("hah-warning-behaviours", 1),
            ("marak-ric", 1),
        ]
        assert all(i["content_hash"].startswith("sha256:") for i in items)

    async def test_titles_default_to_finnish(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        actor = await make_actor("police")
        r = await client.get(LIST, headers=actor.headers)
        assert r.json()["language"] == "fi"
        assert r.headers["content-language"] == "fi"
        titles = {i["code"]: i["title"] for i in r.json()["items"]}
        assert titles["ankkuri-needs"] == "Ankkuri-tuen tarpeen arvio"

    async def test_accept_language_picks_the_title_language(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        actor = await make_actor("social_worker")
        headers = {**actor.headers, "Accept-Language": "de-DE, sv-FI;q=0.9, en;q=0.8"}
        r = await client.get(LIST, headers=headers)
        assert r.json()["language"] == "sv"
        titles = {i["code"]: i["title"] for i in r.json()["items"]}
        assert titles["ankkuri-needs"] == "Ankkuri bedömning av stödbehov"

    async def test_the_lang_parameter_overrides_accept_language(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        actor = await make_actor("coordinator")
        r = await client.get(
            LIST, params={"lang": "en"}, headers={**actor.headers, "Accept-Language": "sv"}
        )
        titles = {i["code"]: i["title"] for i in r.json()["items"]}
        assert titles["marak-ric"] == "Marak risk identification checklist (own wording)"

    async def test_an_unsupported_lang_parameter_is_422(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        actor = await make_actor("police")
        r = await client.get(LIST, params={"lang": "de"}, headers=actor.headers)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"

    @pytest.mark.parametrize("role", DENIED)
    async def test_roles_that_do_not_assess_get_403(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        actor = await make_actor(role)
        r = await client.get(LIST, headers=actor.headers)
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"

    async def test_no_scope_opens_instruments_to_an_integration(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        every = " ".join(Scope)
        scoped = await make_actor("integration", scope=f"{every} instrument.read")
        assert (await client.get(LIST, headers=scoped.headers)).status_code == 403

    async def test_no_token_gets_401(self, client: httpx.AsyncClient) -> None:
        r = await client.get(LIST)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"


class TestGetInstrument:
    async def test_returns_the_full_definition_in_all_languages(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        actor = await make_actor("police")
        r = await client.get(MARAK, headers=actor.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["code"], body["version"], body["scheme"]) == ("marak-ric", 1, "marak")
        assert len(body["items"]) == 24
        assert body["scoring"] == {"rule": "sum_yes", "counted_value": "yes", "threshold": 14}
        assert set(body["items"][0]["label"]) == {"fi", "sv", "en"}
        assert body["content_hash"].startswith("sha256:")

    async def test_the_hah_sections(self, client: httpx.AsyncClient, make_actor: Any) -> None:
        actor = await make_actor("admin")
        r = await client.get("/api/v1/instruments/hah-warning-behaviours/1", headers=actor.headers)
        sections = [i["section"] for i in r.json()["items"]]
        assert (sections.count("proximal"), sections.count("distal")) == (8, 10)

    @pytest.mark.parametrize(
        "path", ["/api/v1/instruments/marak-ric/2", "/api/v1/instruments/unknown/1"]
    )
    async def test_an_unknown_instrument_is_a_404_problem(
        self, client: httpx.AsyncClient, make_actor: Any, path: str
    ) -> None:
        actor = await make_actor("police")
        r = await client.get(path, headers=actor.headers)
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/instrument-not-found")

    async def test_a_version_that_is_not_a_number_is_422(
        self, client: httpx.AsyncClient, make_actor: Any
    ) -> None:
        actor = await make_actor("police")
        r = await client.get("/api/v1/instruments/marak-ric/latest", headers=actor.headers)
        assert r.status_code == 422

    @pytest.mark.parametrize("role", DENIED)
    async def test_roles_that_do_not_assess_get_403(
        self, client: httpx.AsyncClient, make_actor: Any, role: str
    ) -> None:
        actor = await make_actor(role)
        assert_problem(await client.get(MARAK, headers=actor.headers), 403)

    async def test_no_token_gets_401(self, client: httpx.AsyncClient) -> None:
        assert (await client.get(MARAK)).status_code == 401


class TestNegotiateLanguage:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            (None, Language.FI),
            ("", Language.FI),
            ("de", Language.FI),
            ("en-GB", Language.EN),
            ("SV", Language.SV),
            ("en;q=0.5, sv;q=0.6", Language.SV),
            ("en, sv", Language.EN),
            ("en;q=0, sv;q=0.1", Language.SV),
            ("en;q=abc, sv;q=0.2", Language.SV),
            ("*", Language.FI),
        ],
    )
    def test_picks_the_highest_ranked_supported_language(
        self, header: str | None, expected: Language
    ) -> None:
        assert negotiate_language(header) == expected


class TestStartUp:
    async def test_a_broken_definition_stops_the_start_up(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken() -> None:
            raise InstrumentDefinitionError("marak-ric@1.json: title.sv: Field required")

        monkeypatch.setattr(risk_router, "default_registry", broken)
        with pytest.raises(InstrumentDefinitionError, match=r"title\.sv"):
            async with risk_router.load_instruments(None):
                pass  # pragma: no cover

    def test_the_router_loads_the_registry_in_the_app_lifespan(self) -> None:
        assert risk_router.router.lifespan_context is risk_router.load_instruments
