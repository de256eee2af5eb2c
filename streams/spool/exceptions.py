"""Errors of the spool package (ResilienceQueue, disk spool, ResilientProducer).

::

    CamguardError
    └── SpoolError
        ├── QueueFullError        (status 503, retriable, carries retry_after)
        │   └── DiskFullError     (the spool's disk refused a write: ENOSPC, EFBIG, EDQUOT)
        ├── ItemTooLargeError     (status 413)
        ├── QueueClosedError      (status 503)
        ├── SpoolLockedError      (another process holds the spool directory)
        ├── SpoolKeyError         (encrypted spool, missing or wrong CAMGUARD_SPOOL_KEY)
        └── CorruptRecordError    (a record failed its CRC or decryption when read back)
"""

from __future__ import annotations

from streams.exceptions import CamguardError


class SpoolError(CamguardError):
    """Base class of the spool package's errors."""

    reason = "spool_error"


class QueueFullError(SpoolError):
    """The queue is at its item or byte limit and the backpressure mode refused the item.

    Retry after ``retry_after`` seconds, or slow the producer down; raise the limits
    (``max_queue_size``, ``max_memory_bytes``, ``max_disk_items``, ``max_disk_bytes``) or pick
    the ``drop_oldest`` mode when fresh items matter more than old ones.
    """

    retriable = True
    status = 503

    def __init__(self, queue: str, reason: str = "queue_full", retry_after: float = 1.0) -> None:
        super().__init__(f"queue {queue!r} is full ({reason}); retry after {retry_after:.1f}s")
        self.queue = queue
        self.reason = reason
        self.retry_after = retry_after


class DiskFullError(QueueFullError):
    """The spool's file system refused a write (no space, file too large, quota).

    Free space on the spool volume or point ``spool_dir`` elsewhere; the queue keeps accepting
    items in memory where it may and applies backpressure otherwise.
    """

    def __init__(self, queue: str, detail: str = "", retry_after: float = 5.0) -> None:
        super().__init__(queue, "disk_full", retry_after)
        self.detail = detail


class ItemTooLargeError(SpoolError):
    """An item is larger than ``max_item_bytes``; it can never be queued.

    Encode smaller items (lower JPEG quality or resolution) or raise ``max_item_bytes``.
    """

    reason = "item_too_large"
    status = 413

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"item of {size} bytes exceeds max_item_bytes={limit}")
        self.size = size
        self.limit = limit


class QueueClosedError(SpoolError):
    """The queue was closed; the process is shutting down. Nothing was queued."""

    reason = "queue_closed"
    status = 503


class SpoolLockedError(SpoolError):
    """Another process holds this spool directory.

    Two gateways must not share a spool: give each its own ``spool_dir`` or queue name, or stop
    the other process.
    """

    reason = "spool_locked"


class SpoolKeyError(SpoolError):
    """The spool holds encrypted records and the key is missing or different.

    Set ``CAMGUARD_SPOOL_KEY`` to the key the records were written with; the spool is left
    untouched until then.
    """

    reason = "spool_key"


class CorruptRecordError(SpoolError):
    """A spooled record failed its CRC32 or authentication check when read back.

    The item is dropped (counted under ``corrupt``); look for disk errors on the spool volume.
    """

    reason = "corrupt"
