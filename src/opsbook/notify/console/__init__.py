"""The console channel: notifications printed to the process's log."""
