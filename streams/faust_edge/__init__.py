"""Every access to faust-streaming's and aiokafka's private internals, in one package.

faust-streaming is pinned to 0.15.x (pyproject.toml). A faust-streaming or aiokafka upgrade
must pass ``make faust-edge``: the tests marked ``faust_edge``, which run each module here
against a real broker. Nothing outside this package touches a private name of either
library (tests/unit/test_faust_edge.py).

- :mod:`streams.faust_edge.lanes`: batch lanes inside Faust's consumer (``_wait_next_records``,
  the consumer's ack bookkeeping, ``App._new_transport``, the consumer thread's highwaters,
  seek to committed) and the commit gate's hook (``force_commit``).
- :mod:`streams.faust_edge.table_internals`: writes to a table's local store for a given event
  (``_current_event``, ``SerializedStore._set``) and a GlobalTable over a contract topic
  (``_changelog_topic_name``).
- :mod:`streams.faust_edge.worker_hooks`: the first stop signal (``Worker._schedule_shutdown``) and
  the recovery and rebalance state behind ``GET /readyz``.
"""
