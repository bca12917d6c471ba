"""Drive a URL with wrk (when installed) or with bench/loadgen.py, and read the figures.

wrk is a light C load generator (Debian package ``wrk``): it keeps the client's
own cost out of the baseline, which a Python generator cannot. Only ever aimed
at 127.0.0.1, bounded by ``duration``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import loadgen

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class Figures:
    label: str
    rps: float
    p50: float  # ms
    p99: float  # ms
    requests: int
    errors: int  # non-2xx/3xx responses and socket errors
    tool: str
    cpu_ms: float | None = None  # the server's CPU time per request, when measured
    busy_cores: float | None = None  # the whole machine's busy cores over the run (/proc/stat)


def available() -> bool:
    return shutil.which("wrk") is not None


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def parse(label: str, output: str) -> Figures:
    """Read wrk's ``--latency`` report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(found.group(1))
    if found := re.search(r"Socket errors:(.*)", output):
        errors += sum(int(n) for n in re.findall(r"\d+", found.group(1)))
    return Figures(label, rps, p50, p99, requests, errors, "wrk")


def _script(method: str, body: str | None, headers: dict[str, str]) -> Path:
    lines = [f'wrk.method = "{method}"']
    for name, value in headers.items():
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    if body is not None:
        escaped = body.replace("\\", "\\\\").replace('"', '\\"')
        lines.append('wrk.headers["Content-Type"] = "application/json"')
        lines.append(f'wrk.body = "{escaped}"')
    handle = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, encoding="utf-8")
    with handle:
        handle.write("\n".join(lines) + "\n")
    return Path(handle.name)


def run(
    label: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: str | None = None,
    duration: int = 15,
    connections: int = 16,
    threads: int = 2,
) -> Figures:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("load is only ever aimed at 127.0.0.1")
    if not available():
        return _fallback(label, url, headers, method, body, duration, connections)
    script = _script(method, body, headers or {})
    try:
        done = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=duration + 60,
        )
    finally:
        script.unlink(missing_ok=True)
    return parse(label, done.stdout)


def _fallback(
    label: str,
    url: str,
    headers: dict[str, str] | None,
    method: str,
    body: str | None,
    duration: int,
    connections: int,
) -> Figures:
    """bench/loadgen.py, sized to roughly the same duration (GET only)."""
    if method != "GET":
        raise SystemExit("POST measurements need wrk: apt-get install wrk")
    load = loadgen.run(
        label, url, headers=headers, requests=duration * 100, concurrency=connections
    )
    # Callers run inside an event loop (the benches are async): the generator gets
    # a loop of its own in a thread, like wrk gets a process of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(asyncio.run, load).result()
    return Figures(
        label, result.rps, result.p50, result.p99, result.requests, result.errors, "loadgen"
    )
