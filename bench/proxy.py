"""A tiny recording proxy on 127.0.0.1: forwards OpenAI-protocol requests to the llama.cpp
server and keeps each request body exactly as sent, with the response's usage and timing.

Pointing a client at it is how the benchmark learns the exact requests summarizer (or
langextract) sends, including what instructor adds, so they can be replayed bare.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


@dataclass
class Exchange:
    """One forwarded request."""

    path: str
    body: dict[str, Any] | None
    status: int
    usage: dict[str, Any] | None
    started: float  # perf_counter at arrival
    seconds: float  # upstream round trip
    content: str | None = None  # the assistant's text, for determinism checks


@dataclass
class Recorder:
    exchanges: list[Exchange] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self) -> int:
        with self.lock:
            return len(self.exchanges)

    def since(self, mark: int) -> list[Exchange]:
        with self.lock:
            return list(self.exchanges[mark:])


class RecordingProxy:
    """`with RecordingProxy(upstream_base_url) as p: p.base_url` (a /v1 URL on loopback)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        assert parts.hostname in ("127.0.0.1", "localhost"), "loopback only"
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.recorder = Recorder()
        proxy = self
        local = threading.local()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _upstream(self) -> http.client.HTTPConnection:
                conn = getattr(local, "conn", None)
                if conn is None:
                    conn = http.client.HTTPConnection(
                        proxy.upstream_host, proxy.upstream_port, timeout=3600
                    )
                    local.conn = conn
                return conn

            def _forward(self, method: str) -> None:
                arrived = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                for attempt in range(2):
                    conn = self._upstream()
                    try:
                        conn.request(method, self.path, body=raw or None, headers=headers)
                        response = conn.getresponse()
                        data = response.read()
                        break
                    except (ConnectionError, http.client.HTTPException):
                        conn.close()
                        local.conn = None
                        if attempt:
                            raise
                took = time.perf_counter() - arrived
                body = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = None
                usage = content = None
                if self.path.endswith("/chat/completions"):
                    try:
                        parsed = json.loads(data)
                        usage = parsed.get("usage")
                        content = parsed["choices"][0]["message"].get("content")
                    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                        pass
                    with proxy.recorder.lock:
                        proxy.recorder.exchanges.append(
                            Exchange(
                                self.path, body, response.status, usage, arrived, took, content
                            )
                        )
                self.send_response(response.status)
                for k, v in response.getheaders():
                    if k.lower() not in _HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self._forward("POST")

            def do_GET(self) -> None:
                self._forward("GET")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
