"""The command probe reports exit code and output; at the timeout nothing is left behind."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opsbook.checks.command.probe import OUTPUT_CAP
from opsbook.checks.config import CheckConfig
from opsbook.checks.result import CheckResult
from opsbook.checks.runner import compile_check

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def run(timeout: str = "5s", **spec: Any) -> CheckResult:
    config = CheckConfig.model_validate(
        {"name": "job", "command": spec, "timeout": timeout, "every": "1m"}
    )
    return await compile_check(config).run(started_at=NOW)


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a parent (in a container, PID 1 may not reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_exit_code_and_output_are_values() -> None:
    result = await run(run="echo 42; echo oops >&2; exit 3", expect_exit=3)
    assert result.ok, result.reason
    assert result.observed == {"exit_code": 3, "stdout": "42\n", "stderr": "oops\n"}


async def test_a_non_zero_exit_fails_and_stdout_is_condition_material(tmp_path: Path) -> None:
    failing = await run(run=["false"])
    counted = CheckConfig.model_validate(
        {
            "name": "backups",
            "command": {"run": "ls | wc -l", "cwd": str(tmp_path)},
            "conditions": ["stdout >= 1"],
        }
    )
    empty = await compile_check(counted).run(started_at=NOW)
    assert failing.reason is not None
    assert failing.reason.message == "expected exit_code == 0, got 1"
    assert empty.reason is not None
    assert empty.reason.message == 'expected stdout >= 1, got "0\\n"'


async def test_env_is_added_to_the_environment() -> None:
    result = await run(
        run=[sys.executable, "-c", "import os; print(os.environ['BACKUP_DIR'])"],
        env={"BACKUP_DIR": "/srv/backups"},
    )
    assert result.observed["stdout"] == "/srv/backups\n"


async def test_the_whole_process_group_is_killed_at_the_timeout(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"echo $$ > {pids}; sleep 30 & echo $! >> {pids}; wait"
    began = time.monotonic()
    result = await run(timeout="500ms", run=script)
    assert time.monotonic() - began < 2
    assert result.reason is not None
    assert result.reason.code == "timeout"
    assert result.reason.message == "no answer within 500ms"
    shell, sleeper = map(int, pids.read_text().split())
    deadline = time.monotonic() + 2
    while (alive(shell) or alive(sleeper)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive(shell)
    assert not alive(sleeper)  # the grandchild went with its group


async def test_a_background_child_is_not_left_behind_after_a_normal_exit(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    # The child keeps stdout open, so the run lasts until the timeout kills the group.
    result = await run(timeout="300ms", run=f"sleep 30 & echo $! > {pid_file}; exit 0")
    assert result.reason is not None
    time.sleep(0.1)
    assert not alive(int(pid_file.read_text()))


async def test_a_missing_program_is_an_error() -> None:
    result = await run(run=["/nonexistent/backup-check"])
    assert result.reason is not None
    assert result.reason.code == "error"
    assert "No such file or directory" in result.reason.message


async def test_output_is_capped_but_read_to_the_end() -> None:
    result = await run(run="head -c 200000 /dev/zero | tr '\\0' a; echo done >&2")
    assert result.ok, result.reason
    assert result.observed["stdout"] == "a" * OUTPUT_CAP
    assert result.observed["stderr"] == "done\n"
