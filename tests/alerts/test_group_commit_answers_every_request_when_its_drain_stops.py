"""If the committer's drain stops (its thread pool shut down, its task cancelled at
shutdown, a bug), every request waiting on it gets an error at once instead of waiting
forever; the next request starts a new drain."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from alerts.pipeline import ALERTS_CONFIG, Pipeline, make_runtime
from opsbook.alerts import committer as committer_module
from opsbook.alerts.committer import GroupCommitter, Submission
from opsbook.alerts.contract import AlertInput
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

TIMEOUT = 30  # a request left waiting fails the test instead of hanging it


@pytest.fixture
def pipeline(db: Database, clock: FakeClock, tmp_path: Path) -> Pipeline:
    return Pipeline(make_runtime(db, clock, ALERTS_CONFIG, tmp_path))


def _committer(pipeline: Pipeline) -> GroupCommitter:
    committer = GroupCommitter(pipeline.db, pipeline.clock, lambda: pipeline.runtime.config)
    committer.inline = False  # commits on a thread, as on PostgreSQL
    return committer


def _alert(name: str) -> Submission:
    return Submission(alerts=[AlertInput(labels={"alertname": "Drained", "instance": name})])


def test_requests_get_an_error_when_the_thread_pool_is_gone(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    committer = _committer(pipeline)
    real = committer_module.asyncio.to_thread

    async def shut_down(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot schedule new futures after shutdown")

    async def scenario() -> list[BaseException | None]:
        monkeypatch.setattr(committer_module.asyncio, "to_thread", shut_down)
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(committer.submit(_alert(f"i-{n}")) for n in range(3)), return_exceptions=True
            ),
            TIMEOUT,
        )
        monkeypatch.setattr(committer_module.asyncio, "to_thread", real)
        await asyncio.wait_for(committer.submit(_alert("after")), TIMEOUT)
        return outcomes

    try:
        outcomes = asyncio.run(scenario())
    finally:
        committer.close()
    assert [str(outcome) for outcome in outcomes] == [
        "cannot schedule new futures after shutdown"
    ] * 3
    assert [a.labels["instance"] for a in pipeline.alerts()] == ["after"]


def test_requests_get_an_error_when_the_drain_is_cancelled(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    committer = _committer(pipeline)
    real_commit = committer._commit
    committing = threading.Event()

    def slow_commit(batch: list[Submission]) -> list[Any]:
        committing.set()
        time.sleep(0.2)
        return real_commit(batch)

    monkeypatch.setattr(committer, "_commit", slow_commit)

    async def scenario() -> BaseException | None:
        request = asyncio.ensure_future(committer.submit(_alert("cut-off")))
        while not committing.is_set():
            await asyncio.sleep(0.001)
        drainer = committer._drainer
        assert drainer is not None
        drainer.cancel()
        [outcome] = await asyncio.wait_for(asyncio.gather(request, return_exceptions=True), TIMEOUT)
        return outcome

    try:
        outcome = asyncio.run(scenario())
    finally:
        committer.close()
    assert isinstance(outcome, RuntimeError)
    assert str(outcome) == "intake stopped"
