"""Under load the committer waits (up to GATHER_WAIT) for the senders it just answered,
so that their next requests share one commit; after a lone request (an idle server) it
waits for nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from alerts.pipeline import ALERTS_CONFIG, Pipeline, make_runtime
from opsbook.alerts import committer as committer_module
from opsbook.alerts.committer import GroupCommitter, Submission
from opsbook.alerts.contract import AlertInput
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

SENDERS = 4
SENDER_DELAY = 0.0001  # the slowest sender takes 0.3 ms to send again
TIMEOUT = 30  # a committer that stopped answering fails the test instead of hanging it


@pytest.fixture(params=["inline", "thread"])
def committer(
    request: pytest.FixtureRequest, db: Database, clock: FakeClock, tmp_path: Path
) -> GroupCommitter:
    runtime = Pipeline(make_runtime(db, clock, ALERTS_CONFIG, tmp_path)).runtime
    committer = GroupCommitter(db, clock, lambda: runtime.config)
    # Intake commits on the loop on SQLite and on a thread on PostgreSQL; both ways
    # run on both engines here.
    committer.inline = request.param == "inline"
    return committer


def _alert(sender: int, round_: int) -> Submission:
    labels = {"alertname": "Gathered", "instance": f"sender-{sender}-{round_}"}
    return Submission(alerts=[AlertInput(labels=labels)])


async def _sender(committer: GroupCommitter, sender: int, rounds: int) -> None:
    for round_ in range(rounds):
        await committer.submit(_alert(sender, round_))
        # A client takes a while to read its answer and send again; the slowest here
        # is still well within the committer's wait.
        await asyncio.sleep(sender * SENDER_DELAY)


def test_the_senders_of_a_batch_share_the_next_commit(
    committer: GroupCommitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A longer wait than the server's millisecond, so that a busy test machine cannot
    # make a sender miss it; what is tested is that the committer waits at all.
    monkeypatch.setattr(committer_module, "GATHER_WAIT", 0.05)

    async def load() -> None:
        senders = asyncio.gather(*(_sender(committer, s, rounds=3) for s in range(SENDERS)))
        await asyncio.wait_for(senders, TIMEOUT)

    try:
        asyncio.run(load())
    finally:
        committer.close()

    assert committer.requests == 3 * SENDERS
    assert committer.batches == 3  # one commit per round, not one per early sender


def test_after_a_lone_request_nothing_waits(committer: GroupCommitter) -> None:
    async def lone() -> int:
        await committer.submit(_alert(0, 0))
        iterations = 0
        while committer._draining:  # the drain loop ends once the queue is empty
            iterations += 1
            await asyncio.sleep(0)
        return iterations

    try:
        waited = asyncio.run(lone())
    finally:
        committer.close()

    assert committer.batches == 1
    assert waited <= 1  # the one iteration an inline committer yields to send the answer


def test_a_committer_gathers_in_each_event_loop_it_serves(
    committer: GroupCommitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(committer_module, "GATHER_WAIT", 0.05)  # as in the test above

    # An app's lifespan may run more than once over one runtime (each on its own loop):
    # nothing the committer waits on may stay bound to the first loop.
    async def load(rounds: int) -> None:
        senders = asyncio.gather(*(_sender(committer, s, rounds=rounds) for s in range(SENDERS)))
        await asyncio.wait_for(senders, TIMEOUT)

    try:
        asyncio.run(load(2))
        asyncio.run(load(2))
    finally:
        committer.close()

    assert committer.requests == 4 * SENDERS
    assert committer.batches == 4  # gathered in both loops: one commit per round
