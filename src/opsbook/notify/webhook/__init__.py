"""The webhook channel: notifications POSTed as signed JSON."""
