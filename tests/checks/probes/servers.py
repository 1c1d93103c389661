"""Real local servers for the probe tests: HTTP(S) on asyncio, a PKI made by openssl.

Tests fake at one seam only, the network peer: these listen on 127.0.0.1, so the probes
run their real code (sockets, TLS handshakes, HTTP parsing).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType


@dataclass
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    chunked: bool = False
    delay: float = 0.0  # seconds before the first byte of the answer
    raw: bytes | None = None  # written as is, instead of a response built from the rest


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class HttpServer:
    """An HTTP/1.1 server answering ``routes`` by path (404 otherwise); ``async with`` it."""

    def __init__(self, routes: dict[str, Route], *, tls: ssl.SSLContext | None = None) -> None:
        self.routes = routes
        self.tls = tls
        self.requests: list[Seen] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> HttpServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._handle(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.strip().split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Seen(method, path, headers, body))
            route = self.routes.get(path, Route(404, body=b"not found"))
            if route.delay:
                await asyncio.sleep(route.delay)
            writer.write(route.raw if route.raw is not None else _render(route, method))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _render(route: Route, method: str) -> bytes:
    headers = {"Content-Type": "text/plain", **route.headers}
    if route.chunked:
        headers["Transfer-Encoding"] = "chunked"
        middle = len(route.body) // 2
        parts = [route.body[:middle], route.body[middle:]]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
    else:
        headers["Content-Length"] = str(len(route.body))
        body = route.body
    head = f"HTTP/1.1 {route.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + (b"" if method == "HEAD" else body)


@dataclass(frozen=True)
class Chain:
    """A root CA file for clients, and the leaf (plus intermediate) and key for a server."""

    root: Path
    certs: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certs, self.key)
        return context


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
_CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
_LEAF_EXT = "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"


def make_chain(directory: Path, *, leaf_days: int, intermediate_days: int) -> Chain:
    """root (365 days) -> intermediate -> leaf for 127.0.0.1 and localhost, via openssl."""
    d = directory
    (d / "ca.ext").write_text(_CA_EXT)
    (d / "leaf.ext").write_text(_LEAF_EXT)
    _openssl("req", "-x509", *_EC, "-days", "365", "-subj", "/CN=Opsbook Test Root",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", d / "root.key", "-out", d / "root.pem")  # fmt: skip
    _openssl("req", "-new", *_EC, "-subj", "/CN=Opsbook Test Intermediate",
             "-keyout", d / "int.key", "-out", d / "int.csr")  # fmt: skip
    _openssl("x509", "-req", "-in", d / "int.csr", "-CA", d / "root.pem", "-CAkey",
             d / "root.key", "-CAcreateserial", "-days", str(intermediate_days),
             "-extfile", d / "ca.ext", "-out", d / "int.pem")  # fmt: skip
    _openssl("req", "-new", *_EC, "-subj", "/CN=localhost", "-keyout", d / "leaf.key",
             "-out", d / "leaf.csr")  # fmt: skip
    _openssl("x509", "-req", "-in", d / "leaf.csr", "-CA", d / "int.pem", "-CAkey",
             d / "int.key", "-CAcreateserial", "-days", str(leaf_days),
             "-extfile", d / "leaf.ext", "-out", d / "leaf.pem")  # fmt: skip
    (d / "chain.pem").write_text((d / "leaf.pem").read_text() + (d / "int.pem").read_text())
    return Chain(root=d / "root.pem", certs=d / "chain.pem", key=d / "leaf.key")


def self_signed(directory: Path, *, days: int = 30) -> Chain:
    """A certificate nobody trusts: the root is the leaf itself."""
    cert, key = directory / "self.pem", directory / "self.key"
    _openssl("req", "-x509", *_EC, "-days", str(days), "-subj", "/CN=localhost",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", key, "-out", cert)  # fmt: skip
    return Chain(root=cert, certs=cert, key=key)
