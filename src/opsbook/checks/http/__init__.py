"""The http kind: one request on a fresh connection, timed phase by phase like ``curl -w``."""
