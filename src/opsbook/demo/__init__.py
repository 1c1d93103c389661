"""``opsbook demo``: a sample app to watch and an Opsbook watching it, on SQLite."""
