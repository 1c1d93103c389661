"""A lean HTTP/1.1 server for the public status site: snapshot bytes and nothing else.

``opsbook status serve`` runs it (one or more processes sharing the port with
``SO_REUSEPORT``).  Each request is looked up in the current snapshot and answered with
bytes prepared when the snapshot was loaded: headers and body in one ``write``, an
``ETag`` answered with 304, ``HEAD`` without the body, keep-alive and pipelining.  No
framework sits in the path; the parsing is the little a GET needs, and anything else
(a request with a body, an over-long head, a malformed line) is refused and the
connection closed, so it cannot be used to smuggle a request.

Dynamic public routes (the subscribe form, confirmation and unsubscribe links) live in
the main Opsbook app: they are answered with ``307`` to ``settings.public_url``, which
keeps a POST a POST.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Final

import structlog

from opsbook.status.snapshot import Document, Snapshot, SnapshotKeeper

log = structlog.get_logger(__name__)

MAX_HEAD: Final = 16 * 1024
DYNAMIC_PREFIXES: Final = ("/status/subscribe", "/status/subscriptions/", "/status/unsubscribe")
_SECURITY = (
    b"X-Content-Type-Options: nosniff\r\n"
    b"Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
    b"img-src https: data:; form-action 'self' https:; frame-ancestors 'none'\r\n"
)
_REASONS = {
    200: b"OK",
    304: b"Not Modified",
    307: b"Temporary Redirect",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


class Responses:
    """Prepared response bytes for one snapshot, refreshed once a second for ``Date``."""

    def __init__(self, snapshot: Snapshot | None, redirect_base: str | None) -> None:
        self.snapshot = snapshot
        self.redirect_base = redirect_base.rstrip("/") if redirect_base else None
        self.date = b""
        self._cache: dict[tuple[str, str], bytes] = {}
        self.tick()

    def tick(self) -> None:
        self.date = b"Date: " + formatdate(usegmt=True).encode() + b"\r\n"
        self._cache = {}

    def _head(self, status: int, doc: Document | None, extra: bytes = b"") -> bytes:
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]), self.date]
        if doc is not None:
            lines.append(b"Content-Type: " + doc.content_type.encode() + b"\r\n")
            lines.append(b"ETag: " + doc.etag.encode() + b"\r\n")
            lines.append(b"Cache-Control: public, max-age=10\r\n")
            if doc.content_type.startswith("application/json"):
                lines.append(b"Access-Control-Allow-Origin: *\r\n")
            lines.append(_SECURITY)
        lines.append(extra)
        return b"".join(lines)

    def document(self, target: str, method: bytes, etag: bytes | None) -> bytes | None:
        """The full response to GET/HEAD ``target``, or None when nothing is stored there."""
        snapshot = self.snapshot
        if snapshot is None:
            return None
        path, _, query = target.partition("?")
        doc = snapshot.find(path, query)
        if doc is None:
            return None
        if etag is not None and etag.strip() in (doc.etag.encode(), b"*"):
            key = ("304", doc.etag)
            found = self._cache.get(key)
            if found is None:
                found = self._cache[key] = self._head(304, doc, b"Content-Length: 0\r\n\r\n")
            return found
        # Keyed by the document, not the target: any query string finds the same bytes,
        # so a flood of distinct URLs cannot grow the cache.
        key = (method.decode(), doc.etag)
        found = self._cache.get(key)
        if found is None:
            head = self._head(200, doc, b"Content-Length: %d\r\n\r\n" % len(doc.body))
            found = self._cache[key] = head if method == b"HEAD" else head + doc.body
        return found

    def error(self, status: int, *, close: bool = False, extra: bytes = b"") -> bytes:
        body = _REASONS[status] + b"\n"
        return (
            self._head(
                status,
                None,
                extra
                + b"Content-Type: text/plain; charset=utf-8\r\n"
                + (b"Connection: close\r\n" if close else b"")
                + b"Content-Length: %d\r\n\r\n" % len(body),
            )
            + body
        )

    def redirect(self, target: str) -> bytes | None:
        if self.redirect_base is None:
            return None
        location = (self.redirect_base + target).encode()
        return self.error(307, extra=b"Location: " + location + b"\r\n")


class _Connection(asyncio.Protocol):
    __slots__ = ("buffer", "responses", "transport")

    def __init__(self, responses: Callable[[], Responses]) -> None:
        self.responses = responses
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        transport = self.transport
        assert transport is not None
        responses = self.responses()
        out = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    out.append(responses.error(431, close=True))
                    transport.write(b"".join(out))
                    transport.close()
                    return
                break
            head, buffer = buffer[:end], buffer[end + 4 :]
            answer, keep = self._answer(head, responses)
            out.append(answer)
            if not keep:
                transport.write(b"".join(out))
                transport.close()
                return
        self.buffer = buffer
        if out:
            transport.write(out[0] if len(out) == 1 else b"".join(out))

    @staticmethod
    def _answer(head: bytes, responses: Responses) -> tuple[bytes, bool]:
        line_end = head.find(b"\r\n")
        line = head if line_end < 0 else head[:line_end]
        parts = line.split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            return responses.error(400, close=True), False
        method, raw_target, version = parts
        fields = head[line_end:].lower() if line_end >= 0 else b""
        has_body = b"\r\ncontent-length:" in fields or b"\r\ntransfer-encoding:" in fields
        if has_body and method in (b"GET", b"HEAD"):
            return responses.error(400, close=True), False
        keep = b"\r\nconnection: close" not in fields and (
            version == b"HTTP/1.1" or b"\r\nconnection: keep-alive" in fields
        )
        try:
            target = raw_target.decode("ascii")
        except UnicodeDecodeError:
            return responses.error(400, close=True), False
        if method in (b"GET", b"HEAD"):
            etag = None
            at = fields.find(b"\r\nif-none-match:")
            if at >= 0:
                stop = fields.find(b"\r\n", at + 2)
                etag = head[line_end + at + 16 : line_end + stop if stop >= 0 else None]
            found = responses.document(target, method, etag)
            if found is not None:
                return found, keep
        if target.startswith(DYNAMIC_PREFIXES):
            redirect = responses.redirect(target)
            if redirect is not None:
                # A body may follow that we did not read: close after redirecting.
                return redirect, method in (b"GET", b"HEAD") and keep
        if method not in (b"GET", b"HEAD"):
            return responses.error(405, close=True, extra=b"Allow: GET, HEAD\r\n"), False
        if responses.snapshot is None:
            return responses.error(503), keep
        return responses.error(404), keep


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def serve(
    keeper: SnapshotKeeper,
    *,
    host: str,
    port: int,
    stop: asyncio.Event,
    redirect_base: str | None = None,
    refresh_interval: float = 1.0,
) -> None:
    """Serve the keeper's snapshot on ``host:port`` until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    holder = [Responses(keeper.current, redirect_base)]

    def swap(snapshot: Snapshot) -> None:
        loop.call_soon_threadsafe(holder.__setitem__, 0, Responses(snapshot, redirect_base))

    keeper.on_change.append(swap)
    if keeper.current is not None:
        holder[0] = Responses(keeper.current, redirect_base)
    thread_stop = threading.Event()
    refresher = keeper.start(thread_stop, interval=refresh_interval)

    def tick() -> None:
        holder[0].tick()
        if not stop.is_set():
            loop.call_later(1.0 - time.time() % 1.0, tick)

    tick()
    server = await loop.create_server(
        lambda: _Connection(lambda: holder[0]), sock=_listen(host, port), backlog=1024
    )
    log.info("status.serving", listen=f"{host}:{port}", pid=os.getpid())
    try:
        await stop.wait()
    finally:
        server.close()
        thread_stop.set()
        refresher.join(timeout=5)
        await server.wait_closed()


def _run_one(
    make_keeper: Callable[[], SnapshotKeeper],
    *,
    host: str,
    port: int,
    redirect_base: str | None,
    parent: int | None,
) -> None:
    try:
        import uvloop

        runner: Callable[..., None] = uvloop.run
    except ImportError:  # uvicorn[standard] brings uvloop; plain asyncio works too
        runner = asyncio.run

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)

        def orphaned() -> None:
            # A child whose parent died (even by SIGKILL) stops rather than linger.
            if parent is not None and os.getppid() != parent:
                stop.set()
            elif not stop.is_set():
                loop.call_later(1.0, orphaned)

        orphaned()
        keeper = make_keeper()
        await asyncio.to_thread(keeper.refresh)
        await serve(keeper, host=host, port=port, stop=stop, redirect_base=redirect_base)
        keeper.db.dispose()

    runner(main())


def run_processes(
    make_keeper: Callable[[], SnapshotKeeper],
    *,
    host: str,
    port: int,
    processes: int,
    redirect_base: str | None,
) -> None:
    """Serve in ``processes`` processes sharing the port (``SO_REUSEPORT``) until SIGTERM.

    Children are forked before anything opens a database or a thread; each builds its
    own keeper.  SIGTERM to the parent stops the children too.
    """
    parent = os.getpid()
    children: list[int] = []
    for _ in range(processes - 1):
        pid = os.fork()
        if pid == 0:
            try:
                _run_one(
                    make_keeper, host=host, port=port, redirect_base=redirect_base, parent=parent
                )
            finally:
                os._exit(0)
        children.append(pid)
    try:
        _run_one(make_keeper, host=host, port=port, redirect_base=redirect_base, parent=None)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                continue
