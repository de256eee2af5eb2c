"""Which health store the settings pick."""

from __future__ import annotations

import pytest

from streams.settings import Settings
from streams.store.factory import StoreConfigError, store_from_settings
from streams.store.postgres import PostgresHealthStore
from streams.store.supabase import SupabaseHealthStore


def test_a_dsn_wins_then_supabase_then_nothing() -> None:
    both = Settings(pg_dsn="postgresql://x@127.0.0.1/db", supabase_url="https://p.supabase.co",
                    supabase_key="k")  # fmt: skip
    assert isinstance(store_from_settings(both), PostgresHealthStore)
    supa = Settings(supabase_url="https://p.supabase.co", supabase_key="k")
    assert isinstance(store_from_settings(supa), SupabaseHealthStore)
    assert store_from_settings(Settings()) is None


def test_a_url_without_a_key_is_refused() -> None:
    with pytest.raises(StoreConfigError, match="SUPABASE_KEY"):
        store_from_settings(Settings(supabase_url="https://p.supabase.co"))
