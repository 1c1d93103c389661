"""The sample target app the demo watches, with a switch to break it.

It answers like the apps in the seed runbooks: ``/healthz.json``, ``/readyz.json`` and
``/api/health`` in the detailed shape (``{"status": "healthy", "timestamp": ...,
"services": {"database": "healthy", ...}}``).  ``POST /_demo/mode`` with ``mode`` set to
``ok``, ``slow``, ``degraded`` or ``down`` (and ``delay`` for slow, e.g. ``3s``)
simulates an outage; ``GET /_demo/mode`` shows the current one.
"""

from __future__ import annotations

import json
import sqlite3
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

MODES = ("ok", "slow", "degraded", "down")
SERVICES = ("database", "ai", "imageProcessing")


@dataclass
class TargetState:
    mode: str = "ok"
    delay_s: float = 2.5

    def set(self, mode: str, delay_s: float | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.mode = mode
        if delay_s is not None:
            if not 0 <= delay_s <= 60:
                raise ValueError("delay must be between 0s and 60s")
            self.delay_s = delay_s


def _parse_delay(text: str) -> float:
    text = text.strip()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    return float(text.rstrip("s"))


class _Handler(BaseHTTPRequestHandler):
    server: TargetServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the demo's terminal belongs to Opsbook's own log

    def _send(self, status: int, body: dict[str, Any] | str, content_type: str = "") -> None:
        payload = body if isinstance(body, str) else json.dumps(body)
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server.state
        path = self.path.split("?", 1)[0]
        if path == "/_demo/mode":
            self._send(200, {"mode": state.mode, "delay": f"{state.delay_s}s"})
            return
        if state.mode == "slow":
            time.sleep(state.delay_s)
        down = state.mode == "down"
        degraded = state.mode == "degraded"
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if path == "/healthz.json":
            self._send(503 if down else 200, {"status": "down" if down else "ok"})
        elif path == "/readyz.json":
            services = {"database": "down" if down or degraded else "ok", "cache": "ok"}
            ready = not (down or degraded)
            self._send(
                200 if ready else 503,
                {"status": "ok" if ready else "unavailable", "services": services},
            )
        elif path in ("/api/health", "/health"):
            services = {name: "healthy" for name in SERVICES}
            if degraded:
                services["database"] = "unhealthy"
            if down:
                services = {name: "unhealthy" for name in SERVICES}
            status = "unhealthy" if down else "degraded" if degraded else "healthy"
            self._send(
                503 if down else 200, {"status": status, "timestamp": now, "services": services}
            )
        elif path == "/":
            self._send(
                503 if down else 200, _PAGE.format(mode=state.mode), "text/html; charset=utf-8"
            )
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/_demo/mode":
            self._send(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, 10_000)).decode(errors="replace")
        try:
            if self.headers.get("Content-Type", "").startswith("application/json"):
                fields = {k: str(v) for k, v in json.loads(raw or "{}").items()}
            else:
                fields = {k: v[-1] for k, v in parse_qs(raw).items()}
            delay = _parse_delay(fields["delay"]) if fields.get("delay") else None
            self.server.state.set(fields.get("mode", ""), delay)
        except (ValueError, json.JSONDecodeError, AttributeError) as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        self._send(200, {"mode": self.server.state.mode, "delay": f"{self.server.state.delay_s}s"})


TLS_DIR = Path(__file__).parent / "tls"
DEMO_CERT = TLS_DIR / "demo-cert.pem"
DEMO_KEY = TLS_DIR / "demo-key.pem"


def create_app_database(path: Path) -> None:
    """The sample app's own SQLite database, which the demo's database check queries."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS pets (id INTEGER PRIMARY KEY, name TEXT)")
        if conn.execute("SELECT count(*) FROM pets").fetchone()[0] == 0:
            conn.executemany("INSERT INTO pets (name) VALUES (?)", [("Rex",), ("Tom",), ("Ada",)])
    conn.close()


class TargetServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, state: TargetState | None = None) -> None:
        super().__init__((host, port), _Handler)
        self.state = state or TargetState()
        self.scheme = "http"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A prober that gives up on a slow answer hangs up; that is not the app's error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def use_tls(self, cert_file: Path, key_file: Path) -> None:
        """Serve HTTPS instead (the demo's TLS endpoint, with its bundled self-signed cert)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.scheme = "https"

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="demo-target", daemon=True)
        thread.start()
        return thread


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>PawfectMatch (demo target)</title></head><body>
<h1>PawfectMatch</h1><p>The demo app Opsbook watches. Current mode: <strong>{mode}</strong>.</p>
<form method="post" action="/_demo/mode"><label>Mode <select name="mode">
<option>ok</option><option>slow</option><option>degraded</option><option>down</option></select></label>
<button>Set</button></form></body></html>"""
