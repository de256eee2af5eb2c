"""Errors of the health stores (Postgres, Supabase, memory).

::

    CamguardError
    └── StoreError
        ├── StoreUnavailableError   retriable: the store is down, overloaded or unreachable
        └── StoreRejectedError      not retriable: the store refused the rows themselves
"""

from __future__ import annotations

from streams.exceptions import CamguardError


class StoreError(CamguardError):
    """A health store call failed."""

    reason = "store_error"


class StoreUnavailableError(StoreError):
    """The store could not be reached or answered with a transient error.

    The publisher keeps the snapshots (newest per camera) and retries with backoff; nothing to
    do unless it lasts: check the DSN / Supabase URL and that the database is up.
    """

    retriable = True
    reason = "store_unavailable"
    status = 503


class StoreRejectedError(StoreError):
    """The store refused the rows (schema mismatch, constraint, permissions).

    Retrying will not help: check that infra/supabase/migrations are applied and that the key
    may write ``public.cameras``. The rows of that batch are dropped and counted.
    """

    reason = "store_rejected"
    status = 502
