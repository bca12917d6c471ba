"""A runnable casecoord webhook receiver (Standard Webhooks).

    CASECOORD_WEBHOOK_SECRET=whsec_... CASECOORD_API=https://casecoord.example \
    CASECOORD_TOKEN=<client-credential token with referrals:read> \
    python examples/webhook_receiver.py 8080

For every POST it verifies the signature with the library's verifier
(``standardwebhooks.Webhook.verify``: the signature and a 5-minute timestamp
window), ignores a ``webhook-id`` it has already handled (retries and
redeliveries reuse it), and fetches the referral the event names through the
authenticated, audited API: the payload itself carries only ids.
"""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


class Receiver:
    def __init__(self, secret: str, api: httpx.Client) -> None:
        self.webhook = Webhook(secret)
        self.api = api
        self.seen: set[str] = set()  # use a database table in production

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        """(status to answer, what was fetched or None)."""
        try:
            event = self.webhook.verify(body, headers)
        except WebhookVerificationError:
            return 400, None
        msg_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        if msg_id in self.seen:
            return 204, None  # a duplicate: already handled
        fetched = None
        if event["type"].startswith("referral."):
            r = self.api.get(f"/api/v1/referrals/{event['data']['target_id']}")
            r.raise_for_status()
            fetched = r.json()
        self.seen.add(msg_id)
        return 204, fetched


def serve(port: int) -> None:
    api = httpx.Client(
        base_url=os.environ["CASECOORD_API"],
        headers={"Authorization": f"Bearer {os.environ['CASECOORD_TOKEN']}"},
        timeout=10,
    )
    receiver = Receiver(os.environ["CASECOORD_WEBHOOK_SECRET"], api)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status, fetched = receiver.handle(dict(self.headers.items()), body)
            if fetched is not None:
                print("referral", fetched["id"], "is", fetched["status"], flush=True)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 8080)
