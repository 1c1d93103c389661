"""The pages behind the links in a page: ``/links/{token}``, no login needed.

``GET`` only shows what the link would do and a button; ``POST`` does it.  Mail scanners
and chat unfurlers fetch links to check them, and a GET that acknowledged would let a
scanner stop an escalation no person has seen.  The token is the credential (signed,
for one incident and one action, expiring); a POST records its use in the same
transaction as the action, so the same link never acts twice (a second POST, or a
concurrent one, gets "already used").  ``open`` links only show the incident.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsbook.core.web.templating import add_template_dir, render
from opsbook.incidents import lifecycle
from opsbook.incidents.errors import IncidentError, TransitionNotAllowed
from opsbook.incidents.models import Incident
from opsbook.oncall import escalation
from opsbook.oncall.links import LINK_PATH, LinkError, PageLink, verify_link
from opsbook.oncall.models import LinkUse
from opsbook.oncall.service import OncallError

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

TEMPLATE_DIR = Path(__file__).parent / "templates"
router = APIRouter(include_in_schema=False)


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    add_template_dir(TEMPLATE_DIR)
    request.state.principal = None
    response = render(request, name, status_code=status_code, **context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL is a credential
    return response


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _check(request: Request, token: str) -> PageLink | HTMLResponse:
    runtime = _runtime(request)
    try:
        return verify_link(runtime.secret_key(), token, now=runtime.clock.now())
    except LinkError as exc:
        return page(request, "oncall/link_refused.html", status_code=403, reason=str(exc))


def _use(session: Session, link: PageLink) -> LinkUse | None:
    return session.scalar(select(LinkUse).where(LinkUse.nonce == link.nonce))


@router.get(LINK_PATH + "{token}")
def show_link(request: Request, token: str) -> HTMLResponse:
    """What the link would do, with a button to do it (nothing changes on GET)."""
    link = _check(request, token)
    if isinstance(link, HTMLResponse):
        return link
    with _runtime(request).db.read_session() as session:
        incident = session.get(Incident, link.incident_id)
        if incident is None:
            return page(
                request,
                "oncall/link_refused.html",
                status_code=404,
                reason="this incident no longer exists",
            )
        used = _use(session, link) if link.action != "open" else None
        return page(
            request,
            "oncall/link.html",
            link=link,
            incident=incident,
            used=used,
            action_url=f"{LINK_PATH}{token}",
        )


def _act(session: Session, link: PageLink, *, now: datetime) -> str:
    by = f"link:{link.person}"
    if link.action == "ack":
        before = session.get(Incident, link.incident_id)
        was = before.status if before else None
        escalation.acknowledge_page(session, incident_id=link.incident_id, by=by, now=now)
        return (
            "Acknowledged: the escalation has stopped."
            if was == "triggered"
            else ("The incident was already acknowledged; any repeated paging has stopped.")
        )
    if link.action == "resolve":
        incident = lifecycle.resolve(
            session,
            incident_id=link.incident_id,
            by=by,
            now=now,
            reason="resolved from a page link",
        )
        return f"Resolved incident #{incident.number}."
    escalation.escalate_now(session, incident_id=link.incident_id, by=by, now=now)
    return "Escalated: the next level is being paged now."


@router.post(LINK_PATH + "{token}")
def use_link(request: Request, token: str) -> HTMLResponse:
    """Do what the link says, once."""
    link = _check(request, token)
    if isinstance(link, HTMLResponse):
        return link
    if link.action == "open":
        return show_link(request, token)
    runtime = _runtime(request)
    now = runtime.clock.now()
    client = request.client.host if request.client else None
    try:
        with runtime.db.session() as session, session.begin():
            incident = session.get(Incident, link.incident_id)
            if incident is None:
                return page(
                    request,
                    "oncall/link_refused.html",
                    status_code=404,
                    reason="this incident no longer exists",
                )
            if (used := _use(session, link)) is not None:
                return page(
                    request,
                    "oncall/link.html",
                    status_code=409,
                    link=link,
                    incident=incident,
                    used=used,
                    action_url=None,
                )
            outcome = _act(session, link, now=now)
            session.add(
                LinkUse(
                    nonce=link.nonce,
                    incident_id=link.incident_id,
                    action=link.action,
                    person=link.person,
                    used_at=now,
                    remote_addr=client,
                    outcome=outcome[:200],
                )
            )
            session.flush()
            number = incident.number
    except IntegrityError:
        return page(
            request, "oncall/link_refused.html", status_code=409, reason="this link was just used"
        )
    except (OncallError, IncidentError, TransitionNotAllowed) as exc:
        return page(request, "oncall/link_refused.html", status_code=409, reason=str(exc))
    return page(request, "oncall/link_done.html", outcome=outcome, number=number)
