"""Incident channel names: ``#incident-YYYY-MM-DD-<slug>``, as the runbooks name them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import datetime
from zoneinfo import ZoneInfo

MAX_SLUG_LENGTH = 40
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(title: str, *, max_length: int = MAX_SLUG_LENGTH) -> str:
    """ASCII, lower case, hyphenated; cut at a word boundary when one is close.

    >>> slugify("Checkout: 5xx errors > 5% (EU)")
    'checkout-5xx-errors-5-eu'
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_title.lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        # Prefer ending on a whole word, unless that would throw most of the slug away.
        boundary = cut.rfind("-")
        slug = cut[:boundary] if boundary >= max_length // 2 else cut
        slug = slug.strip("-")
    return slug or "incident"


def channel_base(title: str, *, at: datetime, timezone: ZoneInfo) -> str:
    """The name before de-duplication; the date is the service's local date at ``at``."""
    local_date = at.astimezone(timezone).date()
    return f"#incident-{local_date.isoformat()}-{slugify(title)}"


def unique_channel_name(base: str, taken: Collection[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever is free."""
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"
