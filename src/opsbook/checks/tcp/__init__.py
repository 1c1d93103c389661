"""The tcp kind: connect (``nc -zv``), optionally send a line and expect an answer."""
