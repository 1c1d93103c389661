"""Webhook signatures in the Stripe style, for Opsbook and for the receivers.

The header is ``Opsbook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` where the
HMAC key is the channel's ``secret`` and the signed bytes are ``f"{t}.".encode() +
raw_body``.  Signing the timestamp with the body lets a receiver reject replays of an
old request; verifying the raw bytes (not re-serialized JSON) avoids encoding mismatch.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

SIGNATURE_HEADER = "Opsbook-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = timedelta(minutes=5)


def sign(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """The ``Opsbook-Signature`` header value for ``body`` sent at ``timestamp``.

    >>> headers[SIGNATURE_HEADER] = sign(secret, body, int(sent_at.timestamp()))
    """
    return f"t={timestamp},{SCHEME}={_digest(secret, body, timestamp)}"


def verify(
    secret: str | bytes,
    body: bytes,
    header: str | None,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> bool:
    """Whether ``header`` is a valid signature of ``body``, made within ``tolerance`` of ``now``.

    Several ``v1=`` entries are accepted (any one matching suffices), so a sender can
    sign with an old and a new secret while a rotation is under way.

    >>> verify(secret, request.body, request.headers.get("Opsbook-Signature"),
    ...        now=datetime.now(UTC))
    """
    if not header:
        return False
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs(now.timestamp() - timestamp) > tolerance.total_seconds():
        return False
    expected = _digest(secret, body, timestamp).encode()
    # Bytes, not str: compare_digest rejects non-ASCII str, and the header is untrusted.
    # Every candidate is compared (no early exit), each in constant time.
    matches = [hmac.compare_digest(expected, candidate.encode()) for candidate in signatures]
    return any(matches)


def _digest(secret: str | bytes, body: bytes, timestamp: int) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
