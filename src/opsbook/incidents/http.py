"""What the incidents domain's JSON routes and pages share: the runtime, refusals, If-Match."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fastapi import Header, HTTPException, Request

from opsbook.incidents.errors import IncidentError, IncidentNotFound, TransitionNotAllowed

if TYPE_CHECKING:
    from opsbook.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def expected_version(
    if_match: str | None = Header(
        None, description="The version you read (the ETag of GET /{number}); a stale one is 409"
    ),
) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise HTTPException(422, f"If-Match must be a version number, got {if_match!r}")
    return int(value)


@contextmanager
def refusals() -> Iterator[None]:
    """The service's refusals as HTTP answers: 404 for what does not exist, 409 otherwise."""
    try:
        yield
    except IncidentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (IncidentError, TransitionNotAllowed) as exc:
        raise HTTPException(409, str(exc)) from None
