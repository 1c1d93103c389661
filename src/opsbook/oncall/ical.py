"""iCalendar (RFC 5545) feeds of shifts, for calendar apps to subscribe to.

Written by hand (it is a small, fixed shape) and checked in the tests with the
``icalendar`` parser: CRLF line ends, lines folded at 75 octets without splitting a
UTF-8 character, TEXT values escaped, one VEVENT per shift with a stable UID, DTSTAMP,
and DTSTART/DTEND in UTC (``...Z``), so no VTIMEZONE is needed and every client agrees
on the instants whatever its own zone.  Gaps are not events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from opsbook import __version__
from opsbook.oncall.shifts import Shift

PRODID = f"-//Opsbook//On-call {__version__}//EN"
_MAX_OCTETS = 75


def escape_text(value: str) -> str:
    """RFC 5545 3.3.11: backslash, semicolon, comma and newlines are escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """RFC 5545 3.1: lines of at most 75 octets, continued with CRLF and a space."""
    out: list[str] = []
    current = ""
    size = 0
    limit = _MAX_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = "", 0, _MAX_OCTETS - 1  # the leading space counts
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def shift_uid(shift: Shift) -> str:
    digest = hashlib.sha256(
        f"{shift.schedule}|{shift.layer}|{shift.person}|{shift.start.isoformat()}".encode()
    ).hexdigest()[:24]
    return f"{digest}@opsbook"


def calendar(
    shifts: Iterable[Shift],
    *,
    name: str,
    now: datetime,
    people: dict[str, str] | None = None,
    url: str | None = None,
) -> str:
    """A VCALENDAR of ``shifts`` (gaps left out); ``people`` maps ids to display names."""
    people = people or {}
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
        "X-PUBLISHED-TTL:PT1H",
    ]
    for shift in shifts:
        if shift.person is None:
            continue
        who = people.get(shift.person, shift.person)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{shift_uid(shift)}",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(shift.start)}",
            f"DTEND:{_stamp(shift.end)}",
            f"SUMMARY:{escape_text(f'On call: {who} ({shift.schedule}, {shift.layer})')}",
            "DESCRIPTION:"
            + escape_text(
                f"{who} is {shift.layer} on call for {shift.schedule}.\n"
                f"Person: {shift.person}; source: {shift.source}."
            ),
            f"CATEGORIES:{escape_text(shift.layer)}",
            "TRANSP:TRANSPARENT",
        ]
        if url:
            lines.append(f"URL:{url}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
