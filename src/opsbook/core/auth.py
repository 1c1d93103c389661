"""API tokens, web logins and sessions.

Tokens are 256-bit random strings shown once; only their SHA-256 is stored (a fast
hash is right for high-entropy secrets).  Passwords are people's choices, so they are
hashed with Argon2id.  Sessions are random tokens stored hashed, each with its own
CSRF token, so a stolen database row can be neither replayed nor forged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from opsbook.core.models import ApiToken, UserCredential, WebSession

Role = Literal["viewer", "responder", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "responder", "admin")
_ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
TOKEN_PREFIX = "obk_"  # noqa: S105 - a public marker that makes leaked tokens greppable
SESSION_TTL = timedelta(hours=12)
_LAST_USED_GRANULARITY = timedelta(minutes=1)
_hasher = PasswordHasher()
# Verifying against this keeps the time of a login for an unknown user like a known one.
_DUMMY_HASH = _hasher.hash("opsbook-timing-equaliser")


class AuthError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token, a logged-in person, or (later) a signed link."""

    kind: Literal["token", "session"]
    name: str
    role: Role
    person_id: str | None = None
    csrf_token: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    def allows(self, role: Role) -> bool:
        return _ROLE_RANK[self.role] >= _ROLE_RANK[role]


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(session: Session, *, name: str, role: Role, now: datetime) -> tuple[ApiToken, str]:
    """Create a token; the plaintext is returned once and never stored.

    >>> token, raw = create_token(session, name="prometheus", role="viewer", now=clock.now())
    """
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise AuthError("a token needs a name")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise AuthError(f"a token named {name!r} already exists")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, role=role, token_hash=_digest(raw), prefix=raw[:10], created_at=now)
    session.add(token)
    session.flush()
    return token, raw


def authenticate_token(
    session: Session, raw: str, *, now: datetime
) -> tuple[Principal, bool] | None:
    """The caller behind ``raw``, and whether its last-used stamp is due a :func:`touch_token`.

    A pure read, so every authenticated request need not take the write lock: the stamp
    is only written once a minute per token.
    """
    token = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _digest(raw), ApiToken.revoked_at.is_(None))
    )
    if token is None:
        return None
    stale = token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY
    return Principal(kind="token", name=token.name, role=_as_role(token.role)), stale


def touch_token(session: Session, *, name: str, now: datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.name == name).values(last_used_at=now))


def revoke_token(session: Session, *, name: str, now: datetime) -> bool:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


def set_password(session: Session, *, person_id: str, password: str, now: datetime) -> None:
    if len(password) < 8:
        raise AuthError("a password needs at least 8 characters")
    password_hash = _hasher.hash(password)
    row = session.get(UserCredential, person_id)
    if row is None:
        session.add(
            UserCredential(person_id=person_id, password_hash=password_hash, updated_at=now)
        )
    else:
        row.password_hash = password_hash
        row.updated_at = now
        # A new password ends every existing session of that person.
        session.execute(delete(WebSession).where(WebSession.person_id == person_id))


def verify_password(session: Session, *, person_id: str, password: str) -> bool:
    row = session.get(UserCredential, person_id)
    try:
        return (
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password) and row is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def start_session(
    session: Session,
    *,
    person_id: str,
    now: datetime,
    remote_addr: str | None,
    ttl: timedelta = SESSION_TTL,
) -> tuple[str, str]:
    """Open a web session; returns (session token for the cookie, CSRF token)."""
    raw = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    session.add(
        WebSession(
            token_hash=_digest(raw),
            person_id=person_id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + ttl,
            remote_addr=remote_addr,
        )
    )
    return raw, csrf


def session_person(session: Session, raw: str, *, now: datetime) -> tuple[str, str] | None:
    """(person id, CSRF token) of a live session, or None."""
    row = session.scalar(
        select(WebSession).where(WebSession.token_hash == _digest(raw), WebSession.expires_at > now)
    )
    return (row.person_id, row.csrf_token) if row else None


def end_session(session: Session, raw: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == _digest(raw)))


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(str(expected), str(given))


def _as_role(value: str) -> Role:
    if value not in _ROLE_RANK:
        raise AuthError(f"unknown role {value!r}")
    return value
