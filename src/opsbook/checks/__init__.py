"""Checks: probes run on a schedule, their results, rollups and uptime.

``checks`` knows nothing of alerts or incidents: it produces results and state
transitions (up, down, unknown) that the alerts domain consumes.
"""
