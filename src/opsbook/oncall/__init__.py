"""On-call: people's contact methods, schedules, overrides, escalation policies, paging.

``oncall`` sits right of incidents in the flow (DESIGN.md): it takes the ``oncall:``,
``person:`` and ``team:`` targets incidents hand to it as durable jobs, works out who is
on call, and pages them through the outbox until someone acknowledges (docs/oncall.md).

This package's ``__init__`` imports nothing: the config schema imports
:mod:`opsbook.oncall.config`, and importing the rest here would make a cycle.
"""
