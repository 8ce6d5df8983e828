"""A real HTTP server on loopback that publishes documents (client metadata, JWK Sets).

Each path answers with a fixed status, headers and body; every request is counted, so a test
can tell a cached document from a fetched one.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Published:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class DocumentServer:
    port: int = 0
    routes: dict[str, Published] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def publish(
        self,
        path: str,
        document: Any = None,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> str:
        """Serve ``document`` as JSON (or ``body`` as is) at ``path``; return its URL."""
        raw = body if body is not None else json.dumps(document).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        with self.lock:
            self.routes[path] = Published(status, sent, raw)
        return self.url(path)

    def count(self, path: str) -> int:
        with self.lock:
            return self.hits[path]


@contextmanager
def document_server() -> Iterator[DocumentServer]:
    server = DocumentServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with server.lock:
                server.hits[self.path] += 1
                published = server.routes.get(self.path)
            if published is None:
                self.send_error(404)
                return
            self.send_response(published.status)
            for name, value in published.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(published.body)))
            self.end_headers()
            self.wfile.write(published.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
