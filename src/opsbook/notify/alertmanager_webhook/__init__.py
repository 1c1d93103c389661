"""The alertmanager-webhook channel: Alertmanager's webhook JSON (version 4), so receivers
written for Alertmanager keep working."""
