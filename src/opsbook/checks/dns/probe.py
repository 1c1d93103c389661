"""The dns probe: one query to one server, over UDP (TCP when the answer is truncated)."""

from __future__ import annotations

import asyncio
from functools import cached_property

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver

from opsbook.checks.base import Probe, ProbeError, Stopwatch, no_answer_within
from opsbook.checks.conditions import quote
from opsbook.checks.dns.config import DnsCheckConfig, split_server
from opsbook.checks.result import Observation

_NAME_TYPES = ("CNAME", "MX", "NS")


class DnsProbe(Probe):
    """Values: ``answers`` (sorted text: ``93.184.215.14``, ``10 mail.example.com``, TXT
    strings joined), ``answer_count``, ``rcode`` (``NOERROR``, ``NXDOMAIN``...), ``ttl``.
    Names are written without the trailing dot. Timings: ``dns`` and ``total``."""

    kind = "dns"
    config_model = DnsCheckConfig

    def __init__(self, config: DnsCheckConfig) -> None:
        super().__init__(config)
        self.config: DnsCheckConfig = config

    @cached_property
    def server(self) -> tuple[str, int]:
        if self.config.server is not None:
            return split_server(self.config.server)
        # The system resolver's first server, read once (resolv.conf).
        nameservers = dns.resolver.Resolver().nameservers
        if not nameservers:
            raise ProbeError("dns", "no DNS server configured on this system")
        return str(nameservers[0]), 53

    def implicit_conditions(self) -> tuple[str, ...]:
        rcode = self.config.rcode or "NOERROR"
        conditions = [f"rcode == {quote(rcode)}"]
        if self.config.expect:
            conditions += [f"answers contains {quote(answer)}" for answer in self.config.expect]
        elif self.config.rcode is None:
            conditions.append("answer_count > 0")
        return tuple(conditions)

    async def observe(self, *, timeout: float) -> Observation:
        watch = Stopwatch()
        host, port = self.server
        query = dns.message.make_query(self.config.name, self.config.type)
        try:
            async with asyncio.timeout(timeout):
                response, _ = await dns.asyncquery.udp_with_fallback(
                    query, host, port=port, timeout=timeout
                )
        except (TimeoutError, dns.exception.Timeout):
            raise ProbeError(
                "timeout", no_answer_within(timeout, f"from {host}:{port}"), timings=watch.done()
            ) from None
        except (OSError, dns.exception.DNSException) as exc:
            raise ProbeError(
                "dns", f"query to {host}:{port} failed: {exc}", timings=watch.done()
            ) from None
        watch.lap("dns")
        wanted = dns.rdatatype.from_text(self.config.type)
        answers: list[str] = []
        ttl: int | None = None
        for rrset in response.answer:
            if rrset.rdtype != wanted:
                continue  # the CNAME chain leading to an A answer, say
            ttl = rrset.ttl if ttl is None else min(ttl, rrset.ttl)
            answers += [self._text(rdata) for rdata in rrset]
        values = {
            "answers": sorted(answers),
            "answer_count": len(answers),
            "rcode": dns.rcode.to_text(response.rcode()),
            "ttl": ttl,
        }
        return Observation(values=values, timings=watch.done())

    def _text(self, rdata: object) -> str:
        if self.config.type == "TXT":
            strings = getattr(rdata, "strings", ())
            return "".join(part.decode("utf-8", "replace") for part in strings)
        text = str(rdata)
        return text.rstrip(".") if self.config.type in _NAME_TYPES else text
