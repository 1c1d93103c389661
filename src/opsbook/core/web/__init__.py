"""The web base: layout, static files (vendored htmx), login and the platform dashboard."""
