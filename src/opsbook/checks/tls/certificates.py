"""Read a peer's certificate chain with the standard library, and describe its expiry."""

from __future__ import annotations

import ipaddress
import ssl
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
}

CertInfo = Mapping[str, Any]


def peer_chain(ssl_object: ssl.SSLObject, *, verified: bool) -> list[CertInfo]:
    """The peer's certificates as ``getpeercert()`` dicts, leaf first.

    The standard library exposes the chain only on the private ``_sslobj`` (CPython 3.10+,
    ``_ssl.Certificate.get_info()``); without it we fall back to the leaf alone, which
    ``getpeercert()`` gives only for a verified connection.
    """
    inner = getattr(ssl_object, "_sslobj", None)
    getter = getattr(inner, "get_verified_chain" if verified else "get_unverified_chain", None)
    if getter is not None:
        try:
            chain = [cert.get_info() for cert in getter() or ()]
        except (AttributeError, ValueError, ssl.SSLError):
            chain = []
        if chain:
            return chain
    leaf = ssl_object.getpeercert()
    return [leaf] if leaf else []


def render_name(name: Sequence[Sequence[tuple[str, str]]]) -> str:
    """``((("commonName", "a"),), (("organizationName", "b"),))`` -> ``"CN=a, O=b"``."""
    return ", ".join(
        f"{_SHORT_NAMES.get(key, key)}={value}" for part in name for key, value in part
    )


def hostname_matches(leaf: CertInfo, hostname: str) -> bool:
    """Whether the leaf's subjectAltName covers ``hostname`` (RFC 6125: one-label wildcards)."""
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
            hostname
        )
    except ValueError:
        address = None
    wanted = hostname.lower().rstrip(".")
    for kind, value in leaf.get("subjectAltName", ()):
        if address is not None:
            if kind == "IP Address" and _same_address(value, address):
                return True
        elif kind == "DNS" and _dns_name_matches(value.lower().rstrip("."), wanted):
            return True
    return False


def _same_address(value: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(value.strip()) == address
    except ValueError:
        return False


def _dns_name_matches(pattern: str, hostname: str) -> bool:
    if not pattern.startswith("*."):
        return pattern == hostname
    head, _, rest = hostname.partition(".")
    return bool(head) and rest == pattern[2:]


def _expiry(cert: CertInfo) -> float:
    return float(ssl.cert_time_to_seconds(cert["notAfter"]))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def describe_chain(chain: Sequence[CertInfo], *, now: float | None = None) -> dict[str, Any]:
    """The ``tls`` values: the leaf's expiry and, separately, the earliest in the chain.

    ``days_left`` are fractional days (negative once expired); ``expires_at`` are Unix
    seconds, what ``probe_ssl_earliest_cert_expiry`` reports.
    """
    if not chain:
        return {}
    now = time.time() if now is None else now
    leaf = chain[0]
    leaf_expiry = _expiry(leaf)
    earliest = min(_expiry(cert) for cert in chain)
    return {
        "days_left": round((leaf_expiry - now) / 86400, 3),
        "chain_days_left": round((earliest - now) / 86400, 3),
        "not_after": _iso(leaf_expiry),
        "chain_not_after": _iso(earliest),
        "expires_at": int(leaf_expiry),
        "chain_expires_at": int(earliest),
        "subject": render_name(leaf.get("subject", ())),
        "issuer": render_name(leaf.get("issuer", ())),
        "chain_length": len(chain),
    }
