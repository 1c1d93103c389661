"""The runtime's worker: what it starts when it runs, and what it leaves behind."""

from __future__ import annotations

import threading
import time

import pytest

from opsbook.runtime import Runtime


def _listeners() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "opsbook-listen" and t.is_alive()]


def test_the_worker_listens_for_other_processes_only_while_it_runs(runtime: Runtime) -> None:
    if runtime.db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    before = _listeners()
    runtime.build_worker()  # built and dropped, as tests and `opsbook worker --once` do
    assert _listeners() == before
    stop = threading.Event()
    thread = runtime.run_worker_thread(stop)
    try:
        deadline = time.monotonic() + 30
        while len(_listeners()) == len(before) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(_listeners()) == len(before) + 1
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert _listeners() == before
