"""In-process events: how one domain hears another's state changes without a broker.

Publishers call :meth:`EventBus.publish` after the change is committed (the stored
row is the durable record; this is the prompt nudge).  Subscribers must be quick
and must not raise; an exception is logged and the next subscriber still runs.

>>> bus = EventBus()
>>> bus.subscribe(CheckTransition, lambda event: print(event))
>>> bus.publish(transition)
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class EventBus:
    def __init__(self) -> None:
        self._subscribers: defaultdict[type[Any], list[Callable[[Any], None]]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, event_type: type[Any], callback: Callable[[Any], None]) -> None:
        with self._lock:
            self._subscribers[event_type].append(callback)

    def publish(self, event: Any) -> None:
        with self._lock:
            callbacks = [
                callback
                for event_type, found in self._subscribers.items()
                if isinstance(event, event_type)
                for callback in found
            ]
        for callback in callbacks:
            try:
                callback(event)
            except Exception:
                log.exception("events.subscriber_failed", event=type(event).__name__)
