"""confluent-kafka's ``Message`` as a delivery callback sees it.

Native (src/polled/message.rs): ``poll`` builds one per delivery report, and the
callback's ``msg.value()``, ``msg.offset()``, ... are calls of the hot loop. Its
constructor takes confluent-kafka's parameters, in the same order, for tests.
"""

from __future__ import annotations

from kafkify._kafkify import PolledMessage as Message

TIMESTAMP_NOT_AVAILABLE = 0
TIMESTAMP_CREATE_TIME = 1
TIMESTAMP_LOG_APPEND_TIME = 2

__all__ = [
    "TIMESTAMP_CREATE_TIME",
    "TIMESTAMP_LOG_APPEND_TIME",
    "TIMESTAMP_NOT_AVAILABLE",
    "Message",
]
