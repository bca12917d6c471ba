"""The README's walk-throughs are marked, so `.ci/run` step 7 runs every one of them.

Running them serves a real demo process (``python -m tests.readme_walkthrough``,
about 15-30 s with curl and jq); that is a CI step of its own. These checks are
cheap and keep the marking honest: a new block that calls the demo API without
the marker would otherwise never run.
"""

from __future__ import annotations

import re

from tests.readme_walkthrough import MARKER, README, blocks, expected_refusals

SH_BLOCK = re.compile(r"(?:(" + re.escape(MARKER) + r")\n)?```sh\n(.*?)\n```", re.DOTALL)


def test_every_block_that_calls_the_demo_api_is_a_walkthrough() -> None:
    text = README.read_text(encoding="utf-8")
    unmarked = [body for marker, body in SH_BLOCK.findall(text) if not marker]
    calling = [body.splitlines()[0] for body in unmarked if "curl" in body]
    assert calling == [], f"mark these README blocks with {MARKER}: {calling}"
    # The rest set up the service (install, test, PostgreSQL): nothing to serve them against.
    assert len(blocks()) >= 7


def test_the_refusals_the_readme_shows_are_declared() -> None:
    """Each refusal shown is a comment starting with its status (or its problem JSON)."""
    assert expected_refusals(blocks()) == [403, 404, 422, 403, 409, 409]


def test_blocks_run_in_order_and_share_their_variables() -> None:
    """CASE is the referred case from the cases walk-through to the end of the plans one."""
    texts = blocks()
    joined = "\n".join(texts)
    assert joined.index("CASE=$(") < joined.index("RISK_CASE=$(") < joined.index("move()")
    plans = next(t for t in texts if t.startswith("etag()"))
    risk = [t for t in texts if "RISK_CASE" in t]
    assert risk and all(re.search(r"(?<!RISK_)CASE=", t) is None for t in risk)
    assert "$CASE" in plans
