"""The teams channel: notifications posted to a Teams Workflows webhook as an Adaptive Card."""
