"""The email channel: notifications sent over SMTP."""
