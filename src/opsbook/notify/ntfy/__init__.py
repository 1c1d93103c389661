"""The ntfy channel: push notifications published to an ntfy topic."""
