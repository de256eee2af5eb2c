"""Dead-lettering: a message that cannot be handled goes to ``camguard.deadletter`` with its
reason and its raw bytes, and the consumer goes on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from streams.app import CamguardApp
from streams.contract.records import RawMessage as RawMessage
from streams.exceptions import CamguardError

log = logging.getLogger(__name__)


def _as_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def dead_letter_record(
    message: RawMessage, reason: str, detail: str, consumer: str, now_ms: int
) -> dict[str, Any]:
    """The ``DeadLetter`` record for ``message`` (pure)."""
    return {
        "topic": message.topic,
        "partition": int(message.partition),
        "offset": int(message.offset),
        "key": _as_bytes(message.key),
        "value": _as_bytes(message.value),
        "reason": reason,
        "detail": detail[:2000],
        "consumer": consumer,
        "at": now_ms,
    }


def reason_of(error: BaseException) -> str:
    """The dead-letter reason of an error: its ``reason`` attribute, else its class name."""
    if isinstance(error, CamguardError):
        return error.reason
    return type(error).__name__


async def send_dead_letter(
    cg: CamguardApp, message: RawMessage, error: BaseException, consumer: str
) -> None:
    """Write ``message`` to the dead-letter topic with the reason taken from ``error``."""
    reason = reason_of(error)
    record = dead_letter_record(message, reason, str(error), consumer, int(time.time() * 1000))
    cg.count(f"deadletter.{reason}")
    log.warning(
        "dead-lettering %s[%d]@%d from %s: %s",
        message.topic,
        message.partition,
        message.offset,
        consumer,
        reason,
    )
    await cg.topics.deadletter.send(key=record["key"], value=cg.codec.encode("DeadLetter", record))
