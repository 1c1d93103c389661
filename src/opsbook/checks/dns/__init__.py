"""The dns kind: one query of a record type, with expected answers or an expected rcode."""
