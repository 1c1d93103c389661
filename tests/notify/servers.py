"""Real local receivers for the channel tests: an HTTP webhook receiver and an SMTP server.

Tests fake at one seam only: the network peer.  These are real servers on 127.0.0.1,
so the transports run their real code paths (sockets, TLS, SMTP dialogue, HTTP).
"""

from __future__ import annotations

import socket
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from opsbook.core.clock import Clock
from opsbook.notify.webhook.signing import SIGNATURE_HEADER, verify


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl CLI."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = (
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
        " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost"
    )
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    return cert, key


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"
    delay: float = 0.0  # seconds to stall before answering (a slow receiver)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    status: int


class WebhookReceiver:
    """A webhook endpoint in a thread that verifies signatures like a Stripe-style receiver.

    ``replies`` is consumed one per request; once empty every request gets 200.  A request
    with a bad signature gets 401.  ``accepted`` counts the Idempotency-Keys answered 2xx.
    """

    def __init__(
        self, *, secret: str | None, clock: Clock, port: int | None = None, keep_alive: bool = False
    ) -> None:
        self.secret = secret
        self.clock = clock
        self.port = port or free_port()
        # HTTP/1.1 with keep-alive, as real receivers answer; by default each answer
        # closes its connection (http.server's HTTP/1.0).
        self.keep_alive = keep_alive
        self.client_ports: list[int] = []  # the client's port of each request, in order
        self.replies: list[Reply] = []
        self.requests: list[Received] = []
        self.accepted: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if receiver.keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._answer(self, body)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # The default backlog of 5 drops connects beyond it; clients then wait
            # out a SYN retransmit, which turned a fast test into a slow one.
            request_queue_size = 128

        self._release.clear()
        self._server = Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._release.set()  # let stalled handlers finish so server_close can join them
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
        self._server = self._thread = None

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {key.lower(): value for key, value in handler.headers.items()}
        signature_ok = self.secret is None or verify(
            self.secret, body, headers.get(SIGNATURE_HEADER.lower()), now=self.clock.now()
        )
        with self._lock:
            reply = self.replies.pop(0) if self.replies else Reply()
        if not signature_ok:
            reply = Reply(401, body="bad signature")
        if reply.delay:
            self._release.wait(reply.delay)
        with self._lock:
            self.requests.append(Received(headers, body, signature_ok, reply.status))
            self.client_ports.append(int(handler.client_address[1]))
            if 200 <= reply.status < 300:
                self.accepted[headers.get("idempotency-key", "")] += 1
        data = reply.body.encode()
        try:
            handler.send_response(reply.status)
            for key, value in reply.headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client gave up (timeout test)
            pass


class SmtpRecorder:
    """An aiosmtpd handler that keeps every accepted envelope and refuses chosen recipients."""

    def __init__(self, *, refuse: dict[str, str] | None = None) -> None:
        self.refuse = refuse or {}
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


def smtp_server(handler: SmtpRecorder, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller
