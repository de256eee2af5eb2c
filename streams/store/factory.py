"""Pick the health store from settings: a Postgres DSN wins, then Supabase URL + key, else none.

supabase-py is an optional extra (``camguard[supabase]``); without it a Supabase URL in the
settings is refused with a :class:`StoreConfigError` that says what to install.
"""

from __future__ import annotations

from streams.settings import Settings
from streams.store.base import HealthStore
from streams.store.exceptions import StoreError
from streams.store.postgres import PostgresHealthStore

try:
    from streams.store.supabase import SupabaseHealthStore
except ImportError:  # pragma: no cover - the extra is installed in dev and CI
    SupabaseHealthStore = None  # type: ignore[assignment,misc]


class StoreConfigError(StoreError):
    """The health store settings are incomplete or need an extra: install camguard[supabase]
    for CAMGUARD_SUPABASE_URL, and set CAMGUARD_SUPABASE_KEY with it."""

    reason = "store_config"


def store_from_settings(settings: Settings) -> HealthStore | None:
    """The configured store, or None when health is only published to Kafka."""
    if settings.pg_dsn is not None:
        return PostgresHealthStore(settings.pg_dsn.get_secret_value())
    if settings.supabase_url is None:
        return None
    if settings.supabase_key is None:
        raise StoreConfigError("CAMGUARD_SUPABASE_URL is set but CAMGUARD_SUPABASE_KEY is not")
    if SupabaseHealthStore is None:
        raise StoreConfigError("CAMGUARD_SUPABASE_URL needs supabase-py: camguard[supabase]")
    return SupabaseHealthStore(settings.supabase_url, settings.supabase_key.get_secret_value())
