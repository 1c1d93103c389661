"""Alert rules: an expression over check results and metrics, evaluated on an interval.

A rule's series go ``inactive → pending → firing → resolved`` (:mod:`.state`); the state
is persisted per (rule, series) and every alert goes to the pipeline's
:class:`~opsbook.alerts.contract.AlertSink` in the transaction that records it.  The
language and the exact semantics are in docs/rules.md.
"""
