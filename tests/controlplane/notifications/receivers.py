"""A real HTTP server for webhook deliveries to land on (a free port on ``host``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler

from tests.controlplane.notifications.http_receiver import JoiningHTTPServer

Answer = Callable[["Message[str, str]", bytes], tuple[int, dict[str, str]]]
"""A POST's headers (looked up case-insensitively) and body in; the status and the response
headers out."""


class WebhookServer:
    """Serves POSTs with ``answer`` on a thread until :meth:`close`."""

    def __init__(self, host: str, answer: Answer) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, headers = answer(self.headers, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = JoiningHTTPServer((host, 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
