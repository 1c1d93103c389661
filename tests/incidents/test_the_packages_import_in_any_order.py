"""The config schema imports opsbook.incidents.config: no import order may make that a cycle."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "opsbook.config.schema",
        "opsbook.incidents.config",
        "opsbook.incidents",
        "opsbook.incidents.postmortems.jobs",
        "opsbook.incidents.reports.service",
        "opsbook.app",
    ],
)
def test_a_fresh_interpreter_imports_it_first(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
