"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol.

Replies are scripted per test: each request takes the next scripted `Reply` (or the
`default` factory when the script is empty), so tests exercise the real client, retry and
parsing code over a real socket instead of patching our own code.

Faults are scripted the same way: a slow reply (`delay`), a dropped connection (`drop`), a
body cut short of its Content-Length (`truncate`), any raw body and content type, and an
endpoint that dies (`stop_server`, or `stop()`) and comes back on the same port (`start()`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer; `content` becomes the assistant message (JSON-encoded if not str)."""

    content: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # raw body instead of a chat completion
    delay: float = 0.0
    drop: bool = False  # close the connection without answering
    truncate: int | None = None  # send only this many bytes of the body, then close
    content_type: str = "application/json"
    stop_server: bool = False  # drop this request and take the whole server down (see stop)
    finish_reason: str = "stop"
    prompt_tokens: int = 100
    completion_tokens: int = 50


def completion_body(request: dict[str, Any], reply: Reply) -> bytes:
    """Build a chat.completion, as tool_calls when the request asked for a tool."""
    content = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    tools = request.get("tools")
    if tools:
        name = tools[0]["function"]["name"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": name, "arguments": content},
                }
            ],
        }
    return json.dumps(
        {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "stub"),
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            },
        }
    ).encode()


class StubServer:
    """Scripted OpenAI-protocol server; use as a context manager or via the pytest fixture."""

    def __init__(self, default: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.script: deque[Reply | Callable[[dict[str, Any]], Reply]] = deque()
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._life = threading.Lock()  # start and stop, one at a time
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = self._bind(0)
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def _bind(self, port: int) -> ThreadingHTTPServer:
        httpd = _QuietServer(("127.0.0.1", port), self._handler())
        httpd.daemon_threads = True
        return httpd

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> StubServer:
        """Serve (again, after `stop`) on the same port; scripts and recorded requests stay."""
        with self._life:
            if self._thread is None:
                if self._httpd is None:
                    self._httpd = self._bind(self.port)
                self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
                self._thread.start()
        return self

    def stop(self) -> None:
        """The endpoint dies: the port refuses connections and every open connection closes.

        Safe from a request handler's own thread (see `Reply.stop_server`).
        """
        with self._life:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
            if httpd is not None:
                if thread is not None:
                    httpd.shutdown()
                httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # keep-alive connections would otherwise outlive the server
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *replies: Reply | Callable[[dict[str, Any]], Reply]) -> None:
        self.script.extend(replies)

    def _next(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            item = self.script.popleft() if self.script else self.default
        if item is None:
            return Reply(status=500, body=b'{"error": {"message": "no scripted reply"}}')
        return item(request) if callable(item) else item

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._connections.discard(self.connection)
                with contextlib.suppress(OSError):  # the client (or `stop`) hung up first
                    super().finish()

            def do_GET(self) -> None:
                body = json.dumps({"object": "list", "data": [{"id": "stub-model"}]}).encode()
                self._send(200, body, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(request)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = server._next(request)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.stop_server:
                    server.stop()
                if reply.drop or reply.stop_server:
                    self.close_connection = True
                    self.connection.close()
                    return
                body = reply.body if reply.body is not None else completion_body(request, reply)
                self._send(reply.status, body, reply.headers, reply.content_type, reply.truncate)

            def _send(
                self,
                status: int,
                body: bytes,
                headers: dict[str, str],
                content_type: str = "application/json",
                truncate: int | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))  # the full length, always
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body if truncate is None else body[:truncate])
                if truncate is not None:
                    self.wfile.flush()
                    self.close_connection = True

        return Handler

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    """A client that hung up (a timeout, a dropped or stopped connection) is not an error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass
