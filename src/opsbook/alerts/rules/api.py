"""HTTP endpoints of the rules: read-only, for viewers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException
from starlette.requests import Request

from opsbook.alerts.rules.schemas import RuleOut
from opsbook.alerts.rules.status import rule_statuses
from opsbook.core.security import viewer

if TYPE_CHECKING:
    from opsbook.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["rules"])


def _statuses(request: Request) -> list[RuleOut]:
    runtime: Runtime = request.app.state.runtime
    config = runtime.config
    with runtime.db.read_session() as session:
        return [RuleOut.of(status) for status in rule_statuses(session, config=config)]


@router.get("/rules", response_model=list[RuleOut], dependencies=[viewer])
def list_rules(request: Request) -> list[RuleOut]:
    """Every rule in opsbook.yaml with its state and the state of each of its series."""
    return _statuses(request)


@router.get("/rules/{name}", response_model=RuleOut, dependencies=[viewer])
def get_rule(request: Request, name: str) -> RuleOut:
    found = next((rule for rule in _statuses(request) if rule.name == name), None)
    if found is None:
        raise HTTPException(404, f"no rule named {name!r}")
    return found
