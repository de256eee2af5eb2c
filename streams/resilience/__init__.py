"""Per-camera circuit breakers and camera health.

Pure core (no Faust, no I/O; clocks and randomness passed in):

- :mod:`~streams.resilience.breaker`: ``step(state, event, now, config, rng)``, the breaker.
- :mod:`~streams.resilience.health`: ``observe`` / ``tick`` / ``snapshot``, the health fold.
- :mod:`~streams.resilience.camera`: both together for one camera, from a ``CameraEvent``.
- :mod:`~streams.resilience.serde`: the states as JSON dicts (the table values).
- :mod:`~streams.resilience.scoped`: each camera's config from the resilience/health policies.

Edges:

- :mod:`~streams.resilience.circuit`: ``CircuitBreaker``, the in-process object API.
- :mod:`~streams.resilience.tables` / :mod:`~streams.resilience.changelogs`: the Faust tables.
"""
