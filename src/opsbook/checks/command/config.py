"""Configuration of the command kind (``checks[N].command``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from opsbook.config.values import ConfigModel, Text


class CommandCheckConfig(ConfigModel):
    """Run a program: a list of arguments, or one string run by ``/bin/sh -c``.

    Up when it exits 0 (or ``expect_exit``). At the timeout its whole process group is
    killed, so nothing it started is left behind.
    """

    run: Text | tuple[Text, ...]
    # Added to Opsbook's own environment.
    env: dict[str, str] = {}
    cwd: Path | None = None
    expect_exit: int | None = Field(default=None, ge=0, le=255)

    @field_validator("run")
    @classmethod
    def _run_names_a_program(cls, run: str | tuple[str, ...]) -> str | tuple[str, ...]:
        if not run:
            raise ValueError("expected a command: a string or a list of arguments")
        return run
