"""A lean keep-alive HTTP/1.1 client for posting webhook JSON to ``http://`` receivers.

The alertmanager-webhook channel posts a notification per group change (dozens a
second under an alert storm); httpx's generality (pools, auth and redirect flows,
streaming) costs more CPU than the rest of a delivery.  This client does only what a
JSON POST needs: a few idle connections per receiver kept open, one ``write`` per
request, the response read by ``Content-Length``, chunks, or until the server closes,
and the status and headers handed back.  An idle connection the receiver has closed
meanwhile is noticed before any byte of an answer arrives, and the request is sent
once more on a new connection (receivers get an ``Idempotency-Key`` for repeats).
``https://`` URLs stay on httpx (its certificate handling).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024  # answers longer than this are cut off (the connection is dropped)
IDLE_PER_HOST = 8


class ClientError(Exception):
    """The request could not be made, or the answer is not HTTP/1.x."""


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int
    target: bytes  # path and query, as sent on the request line
    host_header: bytes

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ClientError(f"not an http:// URL: {parts.scheme}://")
        try:
            port = parts.port or 80
        except ValueError as exc:
            raise ClientError(f"bad port: {exc}") from None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        netloc = parts.netloc.rpartition("@")[2]
        return cls(parts.hostname, port, target.encode("ascii"), netloc.encode("ascii"))


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def is_redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and "location" in self.headers


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        self.writer.close()


@dataclass
class LeanClient:
    """``await client.post(url, body, headers)`` -> :class:`Answer`; ``aclose()`` at the end."""

    idle_per_host: int = IDLE_PER_HOST
    _idle: dict[tuple[str, int], deque[_Connection]] = field(default_factory=dict)
    _closed: bool = False

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        target = Target.parse(url)
        head = _request_head(target, len(body), headers)
        key = (target.host, target.port)
        pool = self._idle.setdefault(key, deque())
        while pool:
            conn = pool.pop()
            if conn.reader.at_eof() or conn.writer.is_closing():
                conn.close()
                continue
            try:
                answer, reusable = await _exchange(conn, head, body)
            except _StaleConnection:
                conn.close()
                continue  # the receiver closed it while idle: try the next, then a new one
            except BaseException:
                conn.close()
                raise
            self._release(key, conn, reusable)
            return answer
        conn = await _connect(target)
        try:
            answer, reusable = await _exchange(conn, head, body)
        except _StaleConnection:
            conn.close()
            raise ClientError("the server closed the connection without answering") from None
        except BaseException:
            conn.close()
            raise
        self._release(key, conn, reusable)
        return answer

    def _release(self, key: tuple[str, int], conn: _Connection, reusable: bool) -> None:
        pool = self._idle.setdefault(key, deque())
        if reusable and not self._closed and len(pool) < self.idle_per_host:
            pool.append(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        self._closed = True
        conns = [conn for pool in self._idle.values() for conn in pool]
        self._idle.clear()
        for conn in conns:
            conn.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                await conn.writer.wait_closed()


class _StaleConnection(Exception):
    pass


async def _connect(target: Target) -> _Connection:
    reader, writer = await asyncio.open_connection(target.host, target.port, limit=MAX_HEAD)
    return _Connection(reader, writer)


def _request_head(target: Target, length: int, headers: dict[str, str]) -> bytes:
    lines = [b"POST " + target.target + b" HTTP/1.1", b"Host: " + target.host_header]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ClientError(f"invalid header {name!r}")
        lines.append(f"{name}: {value}".encode("latin-1"))
    lines += [b"Content-Length: %d" % length, b"", b""]
    return b"\r\n".join(lines)


async def _exchange(conn: _Connection, head: bytes, body: bytes) -> tuple[Answer, bool]:
    """Send one request and read its answer: (answer, whether the connection is reusable)."""
    conn.writer.write(head + body)
    try:
        await conn.writer.drain()
        status_line = await conn.reader.readline()
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise _StaleConnection from exc
    if not status_line:
        raise _StaleConnection
    version, _, rest = status_line.decode("latin-1").partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ClientError(f"not an HTTP/1.x answer: {status_line[:40]!r}")
    headers: dict[str, str] = {}
    size = 0
    while True:
        line = await conn.reader.readline()
        if line in (b"\r\n", b"\n"):
            break
        if not line.endswith(b"\n"):
            raise ClientError("the answer's head was cut off")
        size += len(line)
        if size > MAX_HEAD:
            raise ClientError(f"the answer's head is over {MAX_HEAD} bytes")
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    status = int(code)
    reusable = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if status in (204, 304) or 100 <= status < 200:
        return Answer(status, headers, b""), reusable and status >= 200
    body, complete = await _read_body(conn.reader, headers)
    return Answer(status, headers, body), reusable and complete


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> tuple[bytes, bool]:
    """The body (at most MAX_BODY bytes) and whether it was read to its end."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        size = 0
        while True:
            line = await reader.readline()
            try:
                length = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ClientError("bad chunk size in the answer") from None
            if length == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks), True
            if size + length > MAX_BODY:
                chunks.append(await reader.read(MAX_BODY - size))
                return b"".join(chunks), False
            chunks.append(await reader.readexactly(length))
            size += length
            await reader.readexactly(2)
    length_header = headers.get("content-length")
    if length_header is not None:
        try:
            length = int(length_header)
        except ValueError:
            raise ClientError("bad Content-Length in the answer") from None
        if length > MAX_BODY:
            return await reader.read(MAX_BODY), False
        try:
            return await reader.readexactly(length), True
        except asyncio.IncompleteReadError as exc:
            return exc.partial, False
    return await reader.read(MAX_BODY), False  # until the server closes: not reusable
