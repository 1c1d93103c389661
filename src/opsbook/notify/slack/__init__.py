"""The slack channel: notifications posted to a Slack incoming webhook as Block Kit."""
