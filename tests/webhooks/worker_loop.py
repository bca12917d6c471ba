"""A worker process for the tests: runs the registered ``webhooks.deliver`` job in a
loop, as ``casecoord worker`` will (settings from the environment).

    python -m tests.webhooks.worker_loop READY_FILE SECONDS
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from app.jobs.registry import JobContext, Jobs
from app.main import create_app
from app.platform.config import Settings
from app.platform.extensions import registries_of


async def main(ready: Path, seconds: float) -> None:
    settings = Settings()
    app = create_app(settings)
    registries = registries_of(app)
    job = registries.of(Jobs).get("webhooks.deliver")
    ctx = JobContext(app.state.db, settings, registries)
    await job.run(ctx)  # connect once before saying ready
    await asyncio.to_thread(ready.write_text, "ready")
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            claimed = await job.run(ctx)
            if claimed:
                print(
                    f"{ready.name}: {claimed} at {time.monotonic():.2f}",
                    file=sys.stderr,
                    flush=True,
                )
            else:
                await asyncio.sleep(0.05)
    finally:
        await app.state.db.dispose()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), float(sys.argv[2])))
