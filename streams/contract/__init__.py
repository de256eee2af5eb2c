"""camguard's contract with other programs, without Faust, a Kafka client or a web server.

A package rather than one module, one module per part of the contract (docs/architecture.md):

- :mod:`~streams.contract.topics`: topic names and how they are created (re-exported here, so
  ``from streams.contract import FRAMES`` reads as it always did);
- :mod:`~streams.contract.records`: the Avro enum symbols code branches on (``EventKind``);
- :mod:`~streams.contract.http`: how an HTTP endpoint is described, and the models both servers
  share; :mod:`~streams.contract.worker_http`, :mod:`~streams.contract.policy_http` and
  :mod:`~streams.contract.gateway_http`: the response (and request) models of each server's
  JSON pages; :mod:`~streams.contract.endpoints`: every endpoint of both servers, listed;
- :mod:`~streams.contract.openapi` and :mod:`~streams.contract.typescript`: the OpenAPI document
  of one server and its TypeScript models, built from those lists.

The worker (streams/app.py, streams/web/), the gateway, the CLI and codegen/ all read the
contract from here; nothing here imports the worker (tests/unit/test_import_graph.py).
"""

from __future__ import annotations

from streams.contract.topics import (
    ANONYMIZED,
    DEADLETTER,
    EVENTS,
    FRAMES,
    HEALTH,
    POLICIES,
    POLICIES_AUDIT,
    TRANSITIONS,
    TopicSpec,
    topic_specs,
)

__all__ = [
    "ANONYMIZED",
    "DEADLETTER",
    "EVENTS",
    "FRAMES",
    "HEALTH",
    "POLICIES",
    "POLICIES_AUDIT",
    "TRANSITIONS",
    "TopicSpec",
    "topic_specs",
]
