"""A real HTTP billing system on 127.0.0.1 that records what it receives and refuses on request."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Billing:
    """What the server did: every request, and the uploads it accepted (one per idempotency key)."""

    refuse_first: int = 1  # answer 503 to this many requests before accepting
    reject: int | None = None  # answer this status (e.g. 422) to every request instead
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, Received] = field(default_factory=dict)  # idempotency key -> upload
    url: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        length = int(handler.headers.get("Content-Length") or 0)
        got = Received(handler.path, {k.lower(): v for k, v in handler.headers.items()}, handler.rfile.read(length))
        self.requests.append(got)
        if self.reject is not None:
            return self.reject, b'{"error": "rate plan EP1 is closed in billing"}'
        if self.refuse_first > 0:
            self.refuse_first -= 1
            return 503, b"billing busy, try again"
        key = got.headers.get("idempotency-key", "")
        if key in self.accepted:  # a retry whose answer was lost: the same upload, not a second one
            return 200, b'{"status": "already received"}'
        self.accepted[key] = got
        return 201, b'{"status": "accepted", "reference": "U-%d"}' % len(self.accepted)


def start(billing: Billing) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            status, body = billing.handle(self)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    billing.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server, thread
