"""Signed page links (acknowledge, resolve, escalate, open) and calendar feed tokens.

A link token is ``<payload>.<signature>``: the payload (base64url JSON) names one
incident, one action, the person paged, the step, an expiry and a nonce; the signature
is HMAC-SHA256 over it with the instance's secret key.  A token is therefore good for
one incident and one action only, until it expires; the nonce is recorded when the link
acts (``oncall_link_uses``), so it never acts twice.

Feed tokens are HMACs of ``ical:<scope>:<name>``: stable (a calendar app keeps its URL),
one per schedule or person, and useless for anything but that feed.  Changing
``OPSBOOK_SECRET_KEY`` revokes every link and feed URL at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

LinkAction = Literal["ack", "resolve", "escalate", "open"]
LINK_ACTIONS: Final[tuple[LinkAction, ...]] = ("ack", "resolve", "escalate", "open")
LINK_PATH: Final = "/links/"
LINK_LABELS: Final[dict[LinkAction, str]] = {
    "ack": "Acknowledge",
    "resolve": "Resolve",
    "escalate": "Escalate now",
    "open": "Open incident",
}


class LinkError(ValueError):
    """A token that is malformed, forged or expired; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class PageLink:
    """What a verified link token says."""

    incident_id: int
    action: LinkAction
    person: str
    step: str
    expires_at: datetime
    nonce: str

    @property
    def label(self) -> str:
        return LINK_LABELS[self.action]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, message: str) -> str:
    return _b64(hmac.new(key.encode(), message.encode(), hashlib.sha256).digest())


def sign_link(
    key: str,
    *,
    incident_id: int,
    action: LinkAction,
    person: str,
    step: str,
    expires_at: datetime,
) -> str:
    """A token for one action on one incident; the same inputs give the same token."""
    nonce = _mac(key, f"nonce:{incident_id}:{action}:{person}:{step}")[:22]
    body = {
        "i": incident_id,
        "a": action,
        "p": person,
        "s": step,
        "x": int(expires_at.timestamp()),
        "n": nonce,
    }
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_mac(key, 'link:' + payload)}"


def verify_link(key: str, token: str, *, now: datetime) -> PageLink:
    """Check the signature and expiry of ``token``; raises :class:`LinkError`."""
    payload, _, signature = token.partition(".")
    if not payload or not signature:
        raise LinkError("this link is not valid")
    if not hmac.compare_digest(_mac(key, "link:" + payload), signature):
        raise LinkError("this link is not valid")
    try:
        body = json.loads(_unb64(payload))
        link = PageLink(
            incident_id=int(body["i"]),
            action=body["a"],
            person=str(body["p"]),
            step=str(body["s"]),
            expires_at=datetime.fromtimestamp(int(body["x"]), UTC),
            nonce=str(body["n"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise LinkError("this link is not valid") from None
    if link.action not in LINK_ACTIONS:
        raise LinkError("this link is not valid")
    if now >= link.expires_at:
        raise LinkError(f"this link expired at {link.expires_at:%Y-%m-%d %H:%M} UTC")
    return link


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{LINK_PATH}{token}"


def feed_token(key: str, *, scope: Literal["schedule", "person"], name: str) -> str:
    return _mac(key, f"ical:{scope}:{name}")[:32]


def feed_token_matches(
    key: str, *, scope: Literal["schedule", "person"], name: str, given: str
) -> bool:
    return hmac.compare_digest(feed_token(key, scope=scope, name=name), given)
