"""A real HTTP server on 127.0.0.1 that answers what a test tells it, and records requests.

Plays an exposition endpoint (``/metrics``) or a Prometheus HTTP API (``/api/v1/query``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Answer:
    status: int = 200
    body: str = ""
    content_type: str = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class LocalServer:
    url: str
    # path -> answer, or a function of the request's query parameters
    answers: dict[str, Answer | Callable[[dict[str, list[str]]], Answer]] = field(
        default_factory=dict
    )
    requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)

    def answer_json(self, path: str, body: Any, status: int = 200) -> None:
        self.answers[path] = Answer(status, json.dumps(body), "application/json")


@contextmanager
def local_server() -> Iterator[LocalServer]:
    state = LocalServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            state.requests.append((parts.path, query, dict(self.headers.items())))
            found = state.answers.get(parts.path)
            answer = found(query) if callable(found) else found or Answer(404, "not found")
            payload = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def prometheus_vector(*series: tuple[dict[str, str], str], at: float = 1435781451.781) -> Any:
    """An instant-query answer as the Prometheus HTTP API documents it."""
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": labels, "value": [at, value]} for labels, value in series],
        },
    }
