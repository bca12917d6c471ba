"""A small closed-loop HTTP load generator (httpx, keep-alive, C workers).

Bounded in requests and time, and only ever aimed at 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import httpx


@dataclass
class Result:
    label: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[index]

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies_ms) if self.latencies_ms else float("nan")


async def run(
    label: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    requests: int = 2000,
    concurrency: int = 16,
    max_seconds: float = 120.0,
    expect: int = 200,
) -> Result:
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError("the load generator only targets this machine")
    latencies: list[float] = []
    errors = 0
    remaining = requests
    deadline = time.perf_counter() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != expect:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(label, len(latencies), errors, elapsed, latencies)
