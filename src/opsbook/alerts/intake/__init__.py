"""Alerts in other tools' formats: the Alertmanager API and webhook, PagerDuty Events v2,
and any JSON through a declared mapping.  Each parser turns a request body into
:class:`~opsbook.alerts.contract.AlertInput` values, or refuses it whole with a message
(nothing of a refused request is stored)."""


class IntakeError(ValueError):
    """A request body that is not what the format requires; the message says why."""
