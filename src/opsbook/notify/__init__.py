"""Notification channels: one folder per channel kind behind one small interface."""

from opsbook.notify.base import DeliveryError, OutgoingNotification, Transport
from opsbook.notify.dispatcher import DeliveryResult, Dispatcher
from opsbook.notify.message import Link, Message
from opsbook.notify.registry import CHANNEL_KINDS, build_transport, build_transports
from opsbook.notify.service import UnknownChannel, notify

__all__ = [
    "CHANNEL_KINDS",
    "DeliveryError",
    "DeliveryResult",
    "Dispatcher",
    "Link",
    "Message",
    "OutgoingNotification",
    "Transport",
    "UnknownChannel",
    "build_transport",
    "build_transports",
    "notify",
]
