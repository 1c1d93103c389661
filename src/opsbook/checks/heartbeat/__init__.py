"""The heartbeat kind: the watched job pings Opsbook; silence past period plus grace fails."""
