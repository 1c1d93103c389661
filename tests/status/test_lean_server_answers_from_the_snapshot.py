"""``opsbook status serve``'s server: snapshot bytes over HTTP/1.1, and little else."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from status_support import fresh

from notify.servers import free_port
from opsbook.status.fastserve import serve
from opsbook.status.snapshot import SnapshotKeeper


@pytest.fixture
def server(keeper: SnapshotKeeper) -> Iterator[int]:
    snapshot = fresh(keeper)
    assert snapshot is not None
    port = free_port()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()

    async def main() -> None:
        loop.call_soon(started.set)
        await serve(
            keeper,
            host="127.0.0.1",
            port=port,
            stop=stop,
            redirect_base="https://ops.pawfectmatch.test",
            refresh_interval=0.2,
        )

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(5)
    for _ in range(100):  # until it listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            threading.Event().wait(0.02)
    yield port
    loop.call_soon_threadsafe(stop.set)
    thread.join(5)
    loop.close()


def exchange(port: int, data: bytes, *, until_close: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not until_close and b"".join(chunks).count(b"HTTP/1.1 ") >= data.count(b"HTTP/1."):
                whole = b"".join(chunks)
                if _complete(whole, data.count(b"HTTP/1.")):
                    break
        return b"".join(chunks)


def _complete(whole: bytes, responses: int) -> bool:
    at = 0
    for _ in range(responses):
        end = whole.find(b"\r\n\r\n", at)
        if end < 0:
            return False
        head = whole[at:end].decode()
        length = next(
            (
                int(line.split(":")[1])
                for line in head.split("\r\n")
                if line.lower().startswith("content-length:")
            ),
            0,
        )
        if "304" in head.split("\r\n")[0] or head.startswith("HTTP/1.1 304"):
            length = 0
        at = end + 4 + length
        if at > len(whole):
            return False
    return True


def test_the_page_is_served_at_the_root_and_at_status(server: int, keeper: SnapshotKeeper) -> None:
    body = keeper.current.documents["/"].body  # type: ignore[union-attr]
    for path in (b"/", b"/status"):
        answer = exchange(server, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, rest = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\nContent-Type: text/html; charset=utf-8\r\n" in head
        assert b"\r\nDate: " in head
        assert b"\r\nETag: " in head
        assert rest == body


def test_keep_alive_pipelining_head_and_etags(server: int, keeper: SnapshotKeeper) -> None:
    doc = keeper.current.documents["/api/v2/status.json"]  # type: ignore[union-attr]
    requests = (
        b"GET /api/v2/status.json HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /api/v2/status.json HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /api/v2/status.json HTTP/1.1\r\nHost: x\r\nIf-None-Match: "
        + doc.etag.encode()
        + b"\r\n\r\n"
    )
    answer = exchange(server, requests)
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.count(b"HTTP/1.1 304 Not Modified") == 1
    assert answer.count(doc.body) == 1  # HEAD and 304 carry no body
    assert b"Access-Control-Allow-Origin: *" in answer


def test_unknown_paths_forms_and_bodies(server: int) -> None:
    assert exchange(server, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").startswith(
        b"HTTP/1.1 404 Not Found"
    )
    redirect = exchange(
        server,
        b"POST /status/subscribe HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nemail",
        until_close=True,
    )
    assert redirect.startswith(b"HTTP/1.1 307 Temporary Redirect")
    assert b"Location: https://ops.pawfectmatch.test/status/subscribe\r\n" in redirect
    smuggle = exchange(
        server,
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n",
        until_close=True,
    )
    assert smuggle.startswith(b"HTTP/1.1 400")
    assert smuggle.count(b"HTTP/1.1") == 1
    assert exchange(server, b"DELETE / HTTP/1.1\r\n\r\n", until_close=True).startswith(
        b"HTTP/1.1 405"
    )
    assert exchange(server, b"garbage\r\n\r\n", until_close=True).startswith(b"HTTP/1.1 400")
    huge = exchange(server, b"GET / HTTP/1.1\r\nX: " + b"a" * 20000, until_close=True)
    assert huge.startswith(b"HTTP/1.1 431")
    http10 = exchange(server, b"GET /api/v2/status.json HTTP/1.0\r\n\r\n", until_close=True)
    assert http10.startswith(b"HTTP/1.1 200 OK")  # answered, then closed (no keep-alive)


def test_a_new_snapshot_is_served_without_a_restart(
    server: int, keeper: SnapshotKeeper, runtime: object
) -> None:
    from opsbook.status import service

    before = exchange(server, b"GET /api/v2/components.json HTTP/1.1\r\n\r\n")
    with keeper.db.session() as session, session.begin():
        service.set_override(
            session,
            config=keeper.config(),
            component="api",
            status="major_outage",
            by="alice",
            now=keeper.clock.now(),
        )
    # The Date header changes every second, so wait for the body to change, not the bytes.
    for _ in range(100):
        after = exchange(server, b"GET /api/v2/components.json HTTP/1.1\r\n\r\n")
        if b'"major_outage"' in after:
            break
        threading.Event().wait(0.05)
    assert b'"major_outage"' not in before
    assert b'"major_outage"' in after
