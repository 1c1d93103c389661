"""Incidents: what people work on — lifecycle, severity policy, timeline, roles, targets.

``incidents`` reads the configuration and hands notifications to ``notify``; it knows
nothing of how alerts are evaluated.  The alerts domain calls :func:`open_incident`,
:func:`attach_alert`, :func:`acknowledge` and :func:`resolve` (docs/incidents.md).
"""

from opsbook.incidents.errors import Conflict, IncidentError, IncidentNotFound
from opsbook.incidents.jobs import register_incident_jobs
from opsbook.incidents.models import (
    Incident,
    IncidentAlert,
    IncidentChecklistItem,
    IncidentEvent,
    IncidentRole,
)
from opsbook.incidents.service import (
    ROLES,
    ChecklistTick,
    acknowledge,
    add_note,
    alerts,
    assign_role,
    attach_alert,
    attach_output,
    change_severity,
    checklist,
    get_incident,
    incident_for_alert,
    list_incidents,
    merge,
    open_incident,
    remove_role,
    resolve,
    roles,
    set_impact,
    set_status,
    tick_checklist,
    timeline,
)
from opsbook.incidents.state import STATUSES, TRANSITIONS, TransitionNotAllowed
from opsbook.incidents.timeline import EVENT_KINDS, record_page

__all__ = [
    "EVENT_KINDS",
    "ROLES",
    "STATUSES",
    "TRANSITIONS",
    "ChecklistTick",
    "Conflict",
    "Incident",
    "IncidentAlert",
    "IncidentChecklistItem",
    "IncidentError",
    "IncidentEvent",
    "IncidentNotFound",
    "IncidentRole",
    "TransitionNotAllowed",
    "acknowledge",
    "add_note",
    "alerts",
    "assign_role",
    "attach_alert",
    "attach_output",
    "change_severity",
    "checklist",
    "get_incident",
    "incident_for_alert",
    "list_incidents",
    "merge",
    "open_incident",
    "record_page",
    "register_incident_jobs",
    "remove_role",
    "resolve",
    "roles",
    "set_impact",
    "set_status",
    "tick_checklist",
    "timeline",
]
