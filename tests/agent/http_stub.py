"""A tiny real HTTP server on a free port, for the agent's HTTP clients (enroll, snapshots).

Each request is recorded (method, path, headers, body); ``answers`` is a queue of
``(status, json body)`` replies, the last one repeating.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Stub:
    url: str
    answers: list[tuple[int, object]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)

    def next_answer(self) -> tuple[int, object]:
        if len(self.answers) > 1:
            return self.answers.pop(0)
        return self.answers[0] if self.answers else (200, {})


@contextmanager
def http_stub(port: int, answers: Sequence[tuple[int, object]] | None = None) -> Iterator[Stub]:
    stub = Stub(url=f"http://127.0.0.1:{port}", answers=list(answers or []))

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            stub.requests.append(
                Recorded(self.command, self.path, dict(self.headers.items()), body)
            )
            status, payload = stub.next_answer()
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
