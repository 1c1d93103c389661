"""Metrics: samples pushed to ``POST /api/v1/metrics`` and scraped from exposition endpoints.

One store (``metric_series``, ``metric_samples``, ``metric_rollups``) serves the rules'
metric functions (:mod:`opsbook.alerts.rules`).  Raw samples are kept ``keep_raw``
(2 days by default) and 5-minute rollups ``keep_rollups`` (90 days); see docs/metrics.md.
"""
