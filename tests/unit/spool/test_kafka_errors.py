"""aiokafka's errors, as the gateway's Kafka sink reads them (streams/spool/kafka.translate)."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownProducerId,
)

from streams.spool.kafka import translate
from streams.spool.sink import SinkRejectedError, SinkUnavailableError


@pytest.mark.parametrize(
    "exc", [ProducerClosed(), OutOfOrderSequenceNumber(), ProducerFenced(), UnknownProducerId()]
)
def test_a_producer_that_cannot_go_on_is_replaced(exc: Exception) -> None:
    out = translate(exc)
    assert isinstance(out, SinkUnavailableError)
    assert out.restart
    assert type(exc).__name__ in str(out)


@pytest.mark.parametrize(
    "exc",
    [KafkaTimeoutError(), NotLeaderForPartitionError(), OSError("refused"), TimeoutError()],
)
def test_a_passing_outage_is_retried_with_the_same_producer(exc: Exception) -> None:
    out = translate(exc)
    assert isinstance(out, SinkUnavailableError)
    assert not out.restart


def test_a_record_the_broker_refuses_is_rejected() -> None:
    assert isinstance(translate(MessageSizeTooLargeError()), SinkRejectedError)
