"""The HTTP server the webhook tests' receivers run on."""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class JoiningHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` whose ``server_close`` waits for the request threads: with the
    standard daemon threads, one could still hold its connection when the test ends, and the
    socket would be closed by the garbage collector (a ``ResourceWarning``, an error here)."""

    daemon_threads = False
