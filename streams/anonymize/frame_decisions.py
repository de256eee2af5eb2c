"""What the frames agent decides for each frame (pure: no Faust, no Kafka, no I/O).

agents/frames.py reads a batch of ``camera.frames`` records, asks these functions what to do
with each and sends what they answer:

- :class:`Redeliveries`: whether a record was handled already while this worker owns its
  partition (Faust re-delivers records after its seek back at a rebalance);
- :func:`read_frame`: the decoded ``Frame`` or the reason it goes to the dead-letter topic;
- :func:`privacy_or_blur_all`: the camera's privacy config, or, when the policy lookup fails,
  every kind blurred (fail closed) and the reason to count;
- :func:`withheld`: the error every frame of a batch is dead-lettered with when the
  anonymizer cannot run at all;
- :func:`publication`: the ``AnonymizedFrame`` bytes to publish, or the error to dead-letter
  the frame with (dropped, withheld, or not describable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from streams.anonymize.blur import BlurConfig
from streams.anonymize.exceptions import AnonymizeError, AnonymizeFailedError, PrivacyConfigError
from streams.anonymize.pipeline import EncodedOutcome
from streams.anonymize.records import anonymized_record, is_published
from streams.exceptions import CamguardError
from streams.resilience.camera import check_key

PrivacyLookup = Callable[[str | None, str], tuple[BlurConfig, int | None]]
"""(org_id, camera_id) -> (blur config, policy version or None)."""
Where = tuple[str, int]
"""A source partition: (topic, partition)."""


@dataclass
class Redeliveries:
    """The highest offset handled per source partition while this worker owns it.

    Faust seeks a stream back to its committed offset after every rebalance (table
    recovery), and the records between that offset and the last one read come through the
    stream again while their first outputs sit in the open transaction: handled twice, they
    would be published twice in one commit (tests/integration/test_faults.py). A partition
    the worker keeps across a rebalance keeps its transaction (Faust stops only the producers
    of partitions it lost), so its entry stays; a partition it loses forgets its entry, since
    its uncommitted transaction is given up and whoever owns it next must handle those
    records again.
    """

    handled: dict[Where, int] = field(default_factory=dict)

    def first_time(self, topic: str, partition: int, offset: int) -> bool:
        """Whether the record at ``offset`` is new here (and remember it)."""
        where = (topic, partition)
        last = self.handled.get(where)
        if last is not None and offset <= last:
            return False
        self.handled[where] = offset
        return True

    def keep(self, assigned: Iterable[Where]) -> int:
        """After a rebalance: forget the partitions not in ``assigned``; return how many."""
        kept = set(assigned)
        lost = [where for where in self.handled if where not in kept]
        for where in lost:
            del self.handled[where]
        return len(lost)


def read_frame(
    value: bytes | None, key: Any, decode: Callable[[bytes], dict[str, Any]]
) -> dict[str, Any] | CamguardError:
    """The ``Frame`` record of a message, or why it is dead-lettered.

    The key must be the frame's camera_id: breaker and health rows are written to the key's
    partition, and a frame keyed otherwise would update another partition's state.
    """
    try:
        frame = decode(value or b"")
        check_key(key, frame["camera_id"])
    except CamguardError as exc:  # CodecError, InvalidEventError
        return exc
    return frame


@dataclass(frozen=True)
class PrivacyChoice:
    """The config a camera's frames are blurred with, and why it is not the policy's."""

    config: BlurConfig
    version: int | None
    failed: str | None = None
    """The lookup's failure reason (then ``config`` blurs every kind), else None."""


def privacy_or_blur_all(lookup: PrivacyLookup, org_id: str | None, camera_id: str) -> PrivacyChoice:
    """The camera's privacy config; with no answer from the policies, blur every kind."""
    try:
        config, version = lookup(org_id, camera_id)
    except Exception as exc:  # any failure: fail closed, never publish less blurred
        reason = exc.reason if isinstance(exc, CamguardError) else type(exc).__name__
        return PrivacyChoice(BlurConfig(), None, reason)
    return PrivacyChoice(config, version)


def privacy_from(
    effective_privacy: Callable[[str | None, str | None], tuple[BaseModel, int | None]],
) -> PrivacyLookup:
    """Adapt ``PolicyManager.effective_privacy`` (PrivacyPolicy, version) to a lookup."""

    def lookup(org_id: str | None, camera_id: str) -> tuple[BlurConfig, int | None]:
        policy, version = effective_privacy(org_id, camera_id)
        try:
            return BlurConfig.model_validate(policy.model_dump()), version
        except ValidationError as exc:
            raise PrivacyConfigError(f"privacy policy v{version}: {exc}") from exc

    return lookup


def withheld(exc: Exception) -> AnonymizeError:
    """The error a batch's frames are dead-lettered with when the anonymizer fails whole."""
    return exc if isinstance(exc, AnonymizeError) else AnonymizeFailedError(repr(exc))


def publication(
    frame: Mapping[str, Any],
    result: EncodedOutcome,
    detector: str,
    version: int | None,
    encode: Callable[[dict[str, Any]], bytes],
) -> bytes | AnonymizeError:
    """The frame's ``AnonymizedFrame`` bytes to publish, or the error to dead-letter it with:
    never publish what was not anonymized or what cannot be described."""
    error = result.outcome.error
    if is_published(result):
        try:
            return encode(anonymized_record(frame, result, detector, version))
        except Exception as exc:
            error = AnonymizeFailedError(f"AnonymizedFrame: {exc}")
    return error or AnonymizeFailedError("no anonymized image")
