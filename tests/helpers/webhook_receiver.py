"""A real HTTP server that receives webhooks, on a free loopback port: it records every delivery
and can fail the first attempts at each event (told apart by ``webhook-id``), as a receiver that
is down for a while."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers.service_stack import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    url: str
    failures_per_event: int
    received: list[Received] = field(default_factory=list)
    _tries: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self._tries[headers.get("webhook-id", "")] += 1
            failing = self._tries[headers.get("webhook-id", "")] <= self.failures_per_event
            status = 503 if failing else 200
            self.received.append(Received(headers, body, status))
            return status


@contextmanager
def webhook_receiver(failures_per_event: int = 0) -> Iterator[Receiver]:
    """Serve a receiver on 127.0.0.1 until the block ends."""
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}/hooks/featviz", failures_per_event)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            self.send_response(receiver.answer(headers, body))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test reads what was received

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
