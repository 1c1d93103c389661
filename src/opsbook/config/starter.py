"""The commented starter opsbook.yaml that ``opsbook init`` writes."""

from importlib.resources import files


def starter_config() -> str:
    """The starter file's text: every section and key, with comments and the defaults.

    >>> "severities:" in starter_config()
    True
    """
    return files("opsbook.config").joinpath("starter.yaml").read_text(encoding="utf-8")
