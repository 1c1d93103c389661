"""Alerts: what decides that something is wrong (DESIGN.md, "The flow").

Alerts come from Opsbook's own rules (:mod:`opsbook.alerts.rules`), from other tools in
their own formats (PagerDuty Events v2, the Alertmanager API and webhook, mapped JSON),
and from people.  Every source hands its alerts to one pipeline through the interface in
:mod:`opsbook.alerts.contract`: dedup, silences, inhibition, grouping and routing into
incidents and channels.
"""
