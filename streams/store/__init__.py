"""Where camera health is published: the ``cameras`` table of Supabase or Postgres.

:class:`~streams.store.base.HealthStore` is the interface; ``postgres`` (asyncpg),
``supabase`` (supabase-py) and ``memory`` (the fake for tests) implement it;
:class:`~streams.store.publisher.HealthPublisher` sits in front of one so that the stream never
waits for it; :func:`~streams.store.factory.store_from_settings` picks one from the settings.
"""
