"""The dns probe asks a real (local) DNS server and checks answers and rcode."""

from __future__ import annotations

import asyncio
import contextlib
import typing
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import dns.message
import dns.rcode
import dns.rrset
import pytest

from opsbook.checks.config import CheckConfig
from opsbook.checks.result import CheckResult
from opsbook.checks.runner import compile_check

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ZONE = {
    ("app.test.", "A"): ["10.0.0.7", "10.0.0.8"],
    ("app.test.", "MX"): ["10 mail.app.test."],
    ("app.test.", "TXT"): ['"v=spf1 " "-all"'],
    ("www.app.test.", "CNAME"): ["app.test."],
}


class ZoneServer(asyncio.DatagramProtocol):
    """Answers from ZONE; NXDOMAIN for names it does not know; silent when ``mute``."""

    def __init__(self, *, mute: bool = False) -> None:
        self.mute = mute
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.mute or self.transport is None:
            return
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name, rdtype = question.name.to_text(), dns.rdatatype.to_text(question.rdtype)
        if not any(known == name for known, _ in ZONE):
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif (name, rdtype) in ZONE:
            response.answer.append(
                dns.rrset.from_text_list(name, 300, "IN", rdtype, ZONE[name, rdtype])
            )
        self.transport.sendto(response.to_wire(), addr)


@contextlib.asynccontextmanager
async def zone_server(*, mute: bool = False) -> AsyncIterator[str]:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: ZoneServer(mute=mute), local_addr=("127.0.0.1", 0)
    )
    try:
        yield f"127.0.0.1:{transport.get_extra_info('sockname')[1]}"
    finally:
        transport.close()


async def run(server: str, timeout: str = "5s", **options: Any) -> CheckResult:
    # Answering probes get a roomy timeout so a loaded CI machine cannot fail them;
    # only the silent-server test waits out a short one.
    spec = {"server": server, **options}
    config = CheckConfig.model_validate({"name": "dns", "dns": spec, "timeout": timeout})
    return await compile_check(config).run(started_at=NOW)


async def test_expected_answers_are_found() -> None:
    async with zone_server() as server:
        result = await run(server, name="app.test", expect=["10.0.0.8"])
    assert result.ok, result.reason
    assert result.observed["answers"] == ["10.0.0.7", "10.0.0.8"]
    assert result.observed["rcode"] == "NOERROR"
    assert result.observed["ttl"] == 300
    assert set(result.timings) == {"dns", "total"}


async def test_a_missing_answer_says_what_came_back() -> None:
    async with zone_server() as server:
        result = await run(server, name="app.test", expect=["10.0.0.9"])
    assert result.reason is not None
    assert result.reason.message == (
        'expected answers contains "10.0.0.9", got ["10.0.0.7", "10.0.0.8"]'
    )


@pytest.mark.parametrize(
    ("record", "name", "answers"),
    [
        ("MX", "app.test", ["10 mail.app.test"]),
        ("TXT", "app.test", ["v=spf1 -all"]),
        ("CNAME", "www.app.test", ["app.test"]),
    ],
)
async def test_record_types_are_written_plainly(record: str, name: str, answers: list[str]) -> None:
    async with zone_server() as server:
        result = await run(server, name=name, type=record, expect=answers)
    assert result.ok, result.reason
    assert result.observed["answers"] == answers


async def test_rcode_can_be_what_is_expected() -> None:
    async with zone_server() as server:
        nxdomain = await run(server, name="gone.test", rcode="NXDOMAIN")
        unexpected = await run(server, name="gone.test")
        empty = await run(server, name="app.test", type="AAAA")
    assert nxdomain.ok
    assert unexpected.reason is not None
    assert unexpected.reason.message == 'expected rcode == "NOERROR", got "NXDOMAIN"'
    assert empty.reason is not None
    assert empty.reason.message == "expected answer_count > 0, got 0"


async def test_a_silent_server_times_out() -> None:
    async with zone_server(mute=True) as server:
        result = await run(server, timeout="500ms", name="app.test")
    assert result.reason is not None
    assert result.reason.code == "timeout"
    assert result.reason.message == f"no answer within 500ms (from {server})"
