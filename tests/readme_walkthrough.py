"""Run the README's walk-throughs as written, against a served demo.

The shell blocks of README.md marked with ``<!-- walkthrough -->`` are run in
order, in one ``bash`` with ``set -euo pipefail``, in a scratch directory, as a
new user would run them after ``casecoord serve --demo`` (started here on a
free port, from that directory, so ``data/`` is its own). Only two things are
rewritten: the port (``127.0.0.1:8000``) and ``.venv/bin/``, which becomes the
directory of the running interpreter.

Every ``curl`` goes through a wrapper that records each response's status. The
README states the refusals it shows in a comment that starts with the status
(``# 404``, ``# 403: ...``) or with the problem's JSON (``# {"status":422,...``):
the run passes only when the refusals are exactly those, in that order, and
every other request got a 2xx. A step that breaks the chain (a failed command,
``jq`` on an unexpected body, an empty ETag) stops the script.

Needs ``curl`` and ``jq`` (the README says so). ``python -m tests.readme_walkthrough``
runs it from a checkout (``.ci/run``); ``tests/test_readme_walkthrough.py`` runs
it in the suite.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- walkthrough -->"
BLOCK = re.compile(re.escape(MARKER) + r"\n```sh\n(.*?)\n```", re.DOTALL)
#: A comment that starts with a refusal's status, or with its problem JSON.
EXPECTED = re.compile(r'(?:^|\s)#\s*(?:(4\d\d)\b|\{"status":\s*(4\d\d)\b)')
LOG_LINE = re.compile(r"^(\d{3}) (\S+) (\S+)$")
TOOLS = ("bash", "curl", "jq")
README_HOST = "127.0.0.1:8000"

#: Runs before the blocks: strict bash, and curl that records every status. The
#: write-out goes to stderr (``%{stderr}``), which the wrapper appends to the
#: log; a block's own ``-w`` keeps its output and gets the record appended.
PRELUDE = r"""set -euo pipefail
curl() {
  local args=() record='%{stderr}%{http_code} %{method} %{url_effective}\n' written=
  while (($#)); do
    case "$1" in
      -w|--write-out) args+=("$1" "$2$record"); written=1; shift 2 ;;
      *) args+=("$1"); shift ;;
    esac
  done
  [[ -n $written ]] || args+=(-w "$record")
  command curl "${args[@]}" 2>>"$WALKTHROUGH_LOG"
}
"""


@dataclass(frozen=True)
class Response:
    status: int
    method: str
    url: str

    def __str__(self) -> str:
        return f"{self.status} {self.method} {self.url}"


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    responses: list[Response]
    expected: list[int]
    startup_seconds: float = 0.0
    script_seconds: float = 0.0

    @property
    def refusals(self) -> list[Response]:
        return [r for r in self.responses if not 200 <= r.status < 300]

    def problems(self) -> list[str]:
        found: list[str] = []
        if self.returncode != 0:
            last = self.responses[-1] if self.responses else None
            found.append(f"the script stopped (exit {self.returncode}); last request: {last}")
        if [r.status for r in self.refusals] != self.expected:
            found.append(
                f"refusals {[str(r) for r in self.refusals]} where the README shows {self.expected}"
            )
        if not self.responses:
            found.append("no request was made")
        return found

    def report(self) -> str:
        lines = [*self.problems(), "--- requests:", *(str(r) for r in self.responses)]
        lines += ["--- stdout (tail):", *self.stdout.splitlines()[-30:]]
        lines += ["--- stderr (tail):", *self.stderr.splitlines()[-30:]]
        return "\n".join(lines)


def blocks(readme: Path = README) -> list[str]:
    return BLOCK.findall(readme.read_text(encoding="utf-8"))


def expected_refusals(texts: list[str]) -> list[int]:
    statuses = []
    for text in texts:
        for line in text.splitlines():
            match = EXPECTED.search(line)
            if match:
                statuses.append(int(match.group(1) or match.group(2)))
    return statuses


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """The caller's environment without any CASECOORD_ setting: a fresh shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CASECOORD_")}


def _wait_ready(server: subprocess.Popen[bytes], base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"casecoord serve --demo exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"casecoord serve --demo was not ready within {timeout:.0f} s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run(readme: Path = README, timeout: float = 300.0) -> Outcome:
    """Serve the demo on a free port from a scratch directory and run the blocks there."""
    texts = blocks(readme)
    if not texts:
        raise RuntimeError(f"no {MARKER} blocks in {readme}")
    bindir = Path(sys.executable).parent
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="casecoord-readme-") as scratch:
        work = Path(scratch)
        log = work / "requests.log"
        log.touch()
        script = PRELUDE + "\n".join(texts) + "\n"
        script = script.replace(README_HOST, f"127.0.0.1:{port}")
        script = script.replace(".venv/bin/", f"{bindir}/")
        (work / "walkthrough.sh").write_text(script, encoding="utf-8")
        env = _clean_env()
        server_log = work / "server.log"
        with server_log.open("wb") as sink:
            server = subprocess.Popen(  # noqa: S603 - our own console script
                [str(bindir / "casecoord"), "serve", "--demo", "--port", str(port)],
                cwd=work,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )
        started = time.monotonic()
        try:
            try:
                _wait_ready(server, f"http://127.0.0.1:{port}", timeout=min(timeout, 180.0))
            except RuntimeError as exc:
                tail = server_log.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise RuntimeError(f"{exc}\n--- server log (tail):\n{tail}") from exc
            ready = time.monotonic()
            done = subprocess.run(  # noqa: S603 - the README's own blocks
                [shutil.which("bash") or "/bin/bash", "walkthrough.sh"],
                cwd=work,
                env={**env, "WALKTHROUGH_LOG": str(log)},
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            finished = time.monotonic()
        finally:
            _stop(server)
        responses = []
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            match = LOG_LINE.match(line.strip())
            if match:
                status, method, url = match.groups()
                responses.append(Response(int(status), method, url))
        return Outcome(
            returncode=done.returncode,
            stdout=done.stdout,
            stderr=done.stderr,
            responses=responses,
            expected=expected_refusals(texts),
            startup_seconds=ready - started,
            script_seconds=finished - ready,
        )


def main() -> int:
    missing = missing_tools()
    if missing:
        print(f"README walk-throughs need {', '.join(missing)} on PATH", file=sys.stderr)
        return 2
    outcome = run()
    if outcome.problems():
        print(outcome.report(), file=sys.stderr)
        return 1
    print(
        f"README walk-throughs ran as written: {len(blocks())} blocks, "
        f"{len(outcome.responses)} requests, refusals as shown {outcome.expected}; "
        f"demo served in {outcome.startup_seconds:.1f} s, blocks ran in "
        f"{outcome.script_seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
