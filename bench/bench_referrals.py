"""Benchmark: the referral inbox, outbox and /me/tasks as referrals grow.

    python -m bench.bench_referrals --db sqlite --sizes 10000,100000
    python -m bench.bench_referrals --db postgres --sizes 10000,100000,1000000

In ONE run, at each size of the referrals table: ``GET /api/v1/referrals`` (the inbox,
first page of 50) for a service provider whose organisation receives 1 in every
``--mine-every`` referrals; ``?box=outbox`` for a police user who leads 1 in every
``--member-every`` cases (1-3 referrals each); ``GET /api/v1/me/tasks`` for both, with
part of the unanswered referrals overdue. Reported as ratios to the first size (next to
how the caller's own rows grew) and to the bare baseline of ``bench/serve.py`` (one case
row by primary key) measured alternately at the same size. Machinery: bench_cases.py.
Results: stdout and ``bench/results/referrals-<db>-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import insert

from app.auth.devkeys import ensure_dev_key, mint_dev_token
from app.cases.models import Case, CaseMember
from app.directory.models import Organisation, Team, User
from app.ops.migrate import upgrade
from app.persons.models import Consent, Person
from app.platform.config import Settings
from app.platform.db import make_engine
from app.referrals.models import Referral, ServiceEntry
from bench.bench_cases import ROOT, Server, _database_url, _measure, _row, console

#: name -> (path, caller)
ENDPOINTS = {
    "inbox": ("/api/v1/referrals?limit=50", "provider"),
    "outbox": ("/api/v1/referrals?box=outbox&limit=50", "referrer"),
    "tasks (provider)": ("/api/v1/me/tasks", "provider"),
    "tasks (referrer)": ("/api/v1/me/tasks", "referrer"),
}
#: Status mix of the seeded referrals; unanswered ones past expires_at become
#: failed/expired, as the expiry sweep would have made them.
STATUSES = (
    "draft requested received accepted in_progress completed rejected failed cancelled".split()
)
WEIGHTS = (8, 20, 15, 10, 15, 17, 5, 4, 6)
UNANSWERED = ("requested", "received")
ENDED = {"rejected": "no_capacity", "failed": "no_contact", "cancelled": "no_longer_needed"}
LATER = "requested_at response_due_at expires_at accepted_at ended_at outcome".split()
LATER += ["reason_code", "reason_text"]
OTHER_PROVIDERS = 30
#: ratio -> (figure, divided by the same figure of: the first size | the same-size baseline)
RATIOS = {
    "p50_vs_first": ("p50_ms", "first"),
    "p99_vs_first": ("p99_ms", "first"),
    "rows_vs_first": ("caller_rows", "first"),
    "p50_vs_baseline": ("p50_ms", "baseline"),
}
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc"]
DAY = timedelta(days=1)


class Seeder:
    """Bulk-inserts the directory, cases, persons, consents and referrals with Core."""

    def __init__(self, url: str, settings: Settings, args: Any) -> None:
        self.engine = make_engine(url)
        self.issuer = settings.oidc_issuer
        self.mine_every, self.member_every = args.mine_every, args.member_every
        self.rng = random.Random(20240611)  # the same data every run
        self.police, self.provider_org, self.team = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        self.referrer, self.other, self.provider = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        self.services = [uuid.uuid4() for _ in range(OTHER_PROVIDERS + 1)]  # [0]: the provider's
        self.orgs = [self.provider_org] + [uuid.uuid4() for _ in range(OTHER_PROVIDERS)]
        self.referrals = self.cases = 0
        self.first_case: uuid.UUID | None = None
        #: The caller's own rows per endpoint (what its answer could grow with).
        self.rows = dict.fromkeys(ENDPOINTS, 0)
        #: Rows waiting to be inserted, per table, in foreign-key order.
        self.batch: dict[Any, list[dict[str, Any]]] = {
            t: [] for t in (Organisation, User, Team, ServiceEntry, Person, Consent, Case)
        }
        self.batch |= {CaseMember: [], Referral: []}
        self.fixed: dict[Any, dict[str, Any]] = {
            User: {"issuer": self.issuer, "disabled": False},
            Team: {"name": "Bench Marak", "kind": "marak", "area": "Bench"},
            ServiceEntry: {"service_type": "victim_support", "areas": ["Bench"], "languages": []},
            Person: {"given_name": "Bench", "family_name": "Person"},
            Consent: {"basis": "consent", "scope": "service_referral", "method": "written"},
            Case: {"scheme": "marak", "status": "plan_active", "team_id": self.team},
            CaseMember: {"case_role": "lead", "invited": False},
            Referral: {"reason": "Bench.", "shared_fields": ["name"], "basis_kind": "consent"},
        }
        # executemany takes one set of keys: every referral row carries all of them.
        self.fixed[Referral] |= dict.fromkeys(LATER, None)

    def _add(self, table: Any, now: datetime, **values: Any) -> dict[str, Any]:
        row = {"id": uuid.uuid4(), "version": 1, "created_at": now, "updated_at": now}
        row |= self.fixed.get(table, {}) | values
        self.batch[table].append(row)
        return row

    async def _flush(self) -> None:
        async with self.engine.begin() as conn:
            for table, rows in self.batch.items():
                if rows:
                    await conn.execute(insert(table), rows)
                rows.clear()

    async def base(self) -> None:
        now = datetime.now(UTC)
        for i, org in enumerate([self.police, *self.orgs]):
            code = f"bench-org-{i}" if i > 1 else ("bench-police", "bench-ngo")[i]
            kind = "ngo" if i else "police"
            self._add(Organisation, now, id=org, code=code, name=code, kind=kind)
        for uid, sub, org, role in (
            (self.referrer, "bench-referrer", self.police, "police"),
            (self.other, "bench-other", self.police, "police"),
            (self.provider, "bench-provider", self.provider_org, "service_provider"),
        ):
            self._add(User, now, id=uid, subject=sub, name=sub, organisation_id=org, roles=[role])
        self._add(Team, now, id=self.team, organisation_id=self.police)
        for i, (sid, org) in enumerate(zip(self.services, self.orgs, strict=True)):
            target = {"response_time_target_days": 14, "accepts_electronic_referrals": True}
            self._add(
                ServiceEntry, now, id=sid, provider_organisation_id=org, name=f"S{i}", **target
            )
        await self._flush()

    def _referral(self, case: dict[str, Any], consent: dict[str, Any], now: datetime) -> None:
        mine = self.referrals % self.mine_every == 0
        self.referrals += 1
        created = now - self.rng.uniform(0, 40) * DAY
        status = self.rng.choices(STATUSES, WEIGHTS)[0]
        i = 0 if mine else 1 + self.rng.randrange(OTHER_PROVIDERS)
        row = self._add(
            Referral,
            created,
            case_id=case["id"],
            subject_person_id=consent["person_id"],
            basis_id=consent["id"],
            status=status,
            created_by=case["created_by"],
            created_by_organisation_id=self.police,
            service_id=self.services[i],
            provider_organisation_id=self.orgs[i],
            urgency=self.rng.choice(("routine", "urgent")),
        )
        if status != "draft":
            sent = created + DAY / 24
            row.update(
                requested_at=sent, response_due_at=sent + 14 * DAY, expires_at=sent + 30 * DAY
            )
            if status in UNANSWERED and row["expires_at"] < now:  # the sweep expired it
                status = row["status"] = "failed"
                row.update(
                    reason_code="expired", reason_text="Expired.", ended_at=row["expires_at"]
                )
            elif status in ("accepted", "in_progress", "completed"):
                row["accepted_at"] = sent + 2 * DAY
            if status == "completed":
                row.update(outcome="service_started", ended_at=sent + 5 * DAY)
            elif status in ENDED and row["reason_code"] is None:
                row.update(reason_code=ENDED[status], reason_text="Bench.", ended_at=sent + 3 * DAY)
        unanswered = status in UNANSWERED
        if mine and status != "draft":
            self.rows["inbox"] += 1
            self.rows["tasks (provider)"] += unanswered
        if case["created_by"] == self.referrer:
            self.rows["outbox"] += 1
            overdue = unanswered and row["response_due_at"] < now
            self.rows["tasks (referrer)"] += overdue or row.get("reason_code") == "expired"

    async def grow_to(self, total: int, progress: Progress) -> None:
        task = progress.add_task(f"seeding to {total:,} referrals", total=total - self.referrals)
        while self.referrals < total:
            now, start = datetime.now(UTC), self.referrals
            while self.referrals < total and self.referrals - start < 5000:
                lead = self.referrer if self.cases % self.member_every == 0 else self.other
                owned = {"owner_organisation_id": self.police, "created_by": lead}
                person = self._add(Person, now, **owned)
                given = {"given_by": "person", "obtained_at": now, "obtained_by": lead}
                given |= {"obtained_by_organisation_id": self.police, "person_id": person["id"]}
                consent = self._add(Consent, now, **given)
                case = self._add(Case, now - 41 * DAY, reference=f"BRF-{self.cases:09d}", **owned)
                self._add(CaseMember, now, case_id=case["id"], user_id=lead, added_by=lead)
                self.first_case = self.first_case or case["id"]
                self.cases += 1
                for _ in range(min(1 + self.rng.randrange(3), total - self.referrals)):
                    self._referral(case, consent, now)
            await self._flush()
            progress.advance(task, self.referrals - start)
        if self.engine.dialect.name == "postgresql":
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("ANALYZE")
                await conn.commit()


async def _probe(url: str, headers: dict[str, str]) -> int:
    """One request before measuring: it must succeed; returns how many items it listed."""
    async with httpx.AsyncClient(timeout=60.0) as client:
        r = await client.get(url, headers=headers)
    if r.status_code != 200:
        raise RuntimeError(f"{url}: {r.status_code} {r.text[:500]}")
    body = r.json()
    return len(body["items"]) if isinstance(body, dict) else len(body)


async def _measure_size(
    servers: list[Server], seeder: Seeder, headers: dict[str, dict[str, str]], args: Any
) -> dict[str, Any]:
    app, base = servers
    rounds: dict[str, list[Any]] = {name: [] for name in ("baseline", *ENDPOINTS)}
    items = {
        name: await _probe(app.base + path, headers[who]) for name, (path, who) in ENDPOINTS.items()
    }
    for _ in range(args.rounds):  # alternate, so drift hits all alike
        url = f"{base.base}/cases/{seeder.first_case}"
        rounds["baseline"].append(await _measure("baseline", url, None, args))
        for name, (path, who) in ENDPOINTS.items():
            rounds[name].append(await _measure(name, app.base + path, headers[who], args))
    best = {k: max(v, key=lambda r: r.rps) for k, v in rounds.items()}
    rows = seeder.rows
    return {
        "referrals": seeder.referrals,
        "cases": seeder.cases,
        "endpoints": {
            k: {**_row(r), "items": items.get(k, 1), "caller_rows": rows.get(k, 1)}
            for k, r in best.items()
        },
    }


def _ratios(report: dict[str, Any]) -> None:
    sizes = list(report["sizes"].values())
    for entry in sizes:
        base = entry["endpoints"]["baseline"]
        for name, e in entry["endpoints"].items():
            first = sizes[0]["endpoints"][name]
            for key, (num, den) in RATIOS.items():
                under = (base if den == "baseline" else first)[num]
                e[key] = round(e[num] / under, 2) if under else None  # None: nothing to compare


async def main_async(args: Any) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="casecoord-bench-"))
    url = _database_url(args.db, workdir)
    settings = Settings(data_dir=workdir, database_url=url)
    git = ["git", "-C", str(ROOT), "describe", "--always", "--dirty"]
    commit = subprocess.run(git, capture_output=True, text=True, check=False).stdout.strip()
    report: dict[str, Any] = {"args": vars(args), "commit": commit, "sizes": {}}
    servers: list[Server] = []
    seeder = Seeder(url, settings, args)
    try:
        jwks = ensure_dev_key(settings)
        settings = settings.model_copy(update={"oidc_jwks": str(jwks)})
        thread = threading.Thread(target=upgrade, args=(url,))
        thread.start()
        thread.join()
        await seeder.base()
        claims = {
            "referrer": ("bench-referrer", "bench-police", "police"),
            "provider": ("bench-provider", "bench-ngo", "service_provider"),
        }
        headers = {}
        for who, (sub, org, role) in claims.items():
            token = mint_dev_token(settings, {"sub": sub, "name": sub, "org": org, "roles": [role]})
            headers[who] = {"Authorization": f"Bearer {token}"}
        env = {
            **os.environ,
            "CASECOORD_DATA_DIR": str(workdir),
            "CASECOORD_DATABASE_URL": url,
            "CASECOORD_OIDC_JWKS": str(jwks),
            "CASECOORD_LOG_LEVEL": "WARNING",
            "CASECOORD_REFERRAL_SWEEP_SECONDS": "0",  # no expiry sweep: the data stays put
        }
        servers = [Server("app", env), Server("baseline", env)]
        for size in (int(s) for s in args.sizes.split(",")):
            with Progress(console=console, transient=True) as progress:
                await seeder.grow_to(size, progress)
            report["sizes"][str(size)] = await _measure_size(servers, seeder, headers, args)
            console.print(f"measured {size:,} referrals")
        _ratios(report)
    finally:
        for server in servers:
            server.stop()
        await seeder.engine.dispose()
        if args.keep:
            console.print(f"kept {url} ({workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            if args.db == "postgres":
                name = url.rsplit("/", 1)[1]
                drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                subprocess.run([*PSQL, drop], check=False)
    return report


def _print(report: dict[str, Any]) -> None:
    table = Table(
        title=f"Referral lists and tasks as referrals grow ({report['args']['db']}, "
        f"{report['commit']}); x first = ratio to the first size"
    )
    cols = "endpoint|referrals|caller rows|items|req/s|p50 ms|p99 ms|p50 x first|p99 x first"
    for col in (*cols.split("|"), "rows x first", "p50 / baseline"):
        table.add_column(col, justify="left" if col == "endpoint" else "right")
    names = list(next(iter(report["sizes"].values()))["endpoints"])
    for name in names:
        for entry in report["sizes"].values():
            e = entry["endpoints"][name]
            errors = f" ({e['errors']} errors)" if e["errors"] else ""
            table.add_row(
                name + errors,
                f"{entry['referrals']:,}",
                f"{e['caller_rows']:,}",
                *(str(e[k]) for k in ("items", "rps", "p50_ms", "p99_ms")),
                *(f"{e[k]}x" if e[k] is not None else "-" for k in RATIOS),
            )
        table.add_section()
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sizes", default="10000,100000", help="referral counts, ascending")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--mine-every", type=int, default=1000, help="provider org gets every Nth")
    parser.add_argument(
        "--member-every", type=int, default=1000, help="the referrer is lead of every Nth case"
    )
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    _print(report)
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    path = out / f"referrals-{args.db}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    console.print(f"Saved {path}")


if __name__ == "__main__":
    main()
