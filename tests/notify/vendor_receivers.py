"""A local HTTP server that checks requests against a vendor's documented format.

Each channel test gives it a ``check(request) -> Reply`` that raises ``AssertionError``
on a malformed request (the server then answers 400 with the reason, as the vendor
would refuse it) and records the reason in ``problems``, so a test fails on a bad
payload even when the transport treats the 400 as final.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from notify.servers import Reply, free_port


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        assert self.headers.get("content-type", "").startswith("application/json"), (
            "Content-Type must be application/json"
        )
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        assert self.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ), "Content-Type must be application/x-www-form-urlencoded"
        fields = parse_qs(self.body.decode(), keep_blank_values=True, strict_parsing=True)
        assert all(len(values) == 1 for values in fields.values()), "a form field repeated"
        return {key: values[0] for key, values in fields.items()}

    def basic_auth(self) -> tuple[str, str] | None:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme != "Basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user, password


Check = Callable[[Request], Reply]
E164 = re.compile(r"\+[1-9]\d{6,14}")


class VendorReceiver:
    """Serves ``check`` on 127.0.0.1; ``replies`` (when set) override answers in order."""

    def __init__(self, check: Check) -> None:
        self.check = check
        self.port = free_port()
        self.replies: list[Reply] = []
        self.requests: list[Request] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> VendorReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver._answer(self, Request("POST", self.path, headers, body))

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _answer(self, handler: BaseHTTPRequestHandler, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
        try:
            reply = self.check(request)
        except (AssertionError, ValueError, KeyError, TypeError) as exc:
            with self._lock:
                self.problems.append(f"{type(exc).__name__}: {exc}")
            reply = Reply(400, body=f"invalid_payload: {exc}")
        with self._lock:
            if self.replies:
                reply = self.replies.pop(0)
        data = reply.body.encode()
        handler.send_response(reply.status)
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def common_headers(request: Request, *, idempotency_key: str | None = None) -> None:
    """What every Opsbook transport sends: its User-Agent and (when given) the key."""
    assert request.headers.get("user-agent", "").startswith("opsbook/"), "User-Agent"
    if idempotency_key is not None:
        assert request.headers.get("idempotency-key") == idempotency_key, "Idempotency-Key"


def twilio(
    sid: str,
    token: str,
    resource: str,
    check: Callable[[dict[str, str]], None],
    idempotency_key: str = "incident:7:triggered:sms",
) -> Check:
    """Twilio's create-resource contract: Basic auth, form fields, 201 with JSON."""

    def answer(request: Request) -> Reply:
        if request.basic_auth() != (sid, token):
            return Reply(401, body='{"code": 20003, "message": "Authenticate", "status": 401}')
        assert request.path == f"/2010-04-01/Accounts/{sid}/{resource}.json"
        common_headers(request, idempotency_key=idempotency_key)
        form = request.form()
        assert E164.fullmatch(form["To"]), form["To"]
        assert E164.fullmatch(form["From"]), form["From"]
        check(form)
        return Reply(201, body='{"sid": "SM123", "status": "queued"}')

    return answer
