"""A real webhook receiver on 127.0.0.1 (http.server in a thread) for the tests.

It records every request (lower-cased headers and the raw body) and answers by
``respond(request) -> (status, headers)``; ``stall`` makes it hold requests
until released (a worker is killed meanwhile). ``stop()`` closes the port, so a
receiver can be "down" and later ``start()`` again on the same port.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str


Respond = Callable[[Received], tuple[int, dict[str, str]]]


def ok(_: Received) -> tuple[int, dict[str, str]]:
    return 204, {}


@dataclass
class Receiver:
    respond: Respond = ok
    port: int = 0
    received: list[Received] = field(default_factory=list)
    stall: threading.Event | None = None
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self) -> list[str]:
        with self._lock:
            return [r.headers["webhook-id"] for r in self.received]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                item = Received({k.lower(): v for k, v in self.headers.items()}, body, self.path)
                with receiver._lock:
                    receiver.received.append(item)
                if receiver.stall is not None:
                    receiver.stall.wait(60)
                status, headers = receiver.respond(item)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        ThreadingHTTPServer.request_queue_size = 128
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
