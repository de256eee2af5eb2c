"""The Faust application: its topics and tables (declarations only).

The app is built by :func:`build_app` from one :class:`~streams.settings.Settings`, at the entry
point, never at import time. Agents and views install themselves on the result::

    cg = build_app(Settings())
    agents.events.install(cg)          # a batch lane on cg.topics.events (faust_edge/lanes.py)

Every consumed topic carries raw bytes (``value_serializer="raw"``): agents decode with
:class:`~streams.codec.AvroCodec` and send what they cannot decode to ``camguard.deadletter``
(streams/deadletter.py), so one bad message never stops a partition.

Tables: add a table by declaring it in :func:`_declare_tables` below and adding a field to
:class:`Tables`. Keep table keys = camera_id where the table is updated from a camera topic, so
tables stay co-partitioned with ``camera.frames`` / ``camera.events``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faust
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from streams.codec import AvroCodec
from streams.contract import ANONYMIZED as ANONYMIZED
from streams.contract import DEADLETTER as DEADLETTER
from streams.contract import EVENTS as EVENTS
from streams.contract import FRAMES as FRAMES
from streams.contract import HEALTH as HEALTH
from streams.contract import POLICIES as POLICIES
from streams.contract import POLICIES_AUDIT as POLICIES_AUDIT
from streams.contract import TRANSITIONS as TRANSITIONS
from streams.contract import TopicSpec as TopicSpec
from streams.contract import topic_specs as topic_specs
from streams.faust_edge.lanes import LaneApp
from streams.kafka_security import SASL_PROTOCOLS, ssl_context
from streams.policy.manager import PolicyManager
from streams.policy.sources import PolicySource
from streams.policy.table import declare_policy_table, policy_manager_of
from streams.resilience.tables import declare_resilience_tables
from streams.settings import Settings


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's ``broker_credentials``: used by its consumer, producer and topic creation."""
    protocol = settings.kafka_security_protocol
    context = ssl_context(settings)
    if protocol in SASL_PROTOCOLS:
        password = settings.kafka_sasl_password
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            ssl_context=context,  # set: SASL_SSL; None: SASL_PLAINTEXT
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


@dataclass(frozen=True)
class Topics:
    frames: faust.TopicT
    events: faust.TopicT
    anonymized: faust.TopicT
    health: faust.TopicT
    transitions: faust.TopicT
    policies: faust.TopicT
    audit: faust.TopicT
    deadletter: faust.TopicT


@dataclass
class Tables:
    """Changelog-backed tables. Fields are filled by :func:`_declare_tables`."""

    by_name: dict[str, Any] = field(default_factory=dict)


@dataclass
class CamguardApp:
    """The Faust app with its settings, topics, tables and codec."""

    app: faust.App
    settings: Settings
    topics: Topics
    tables: Tables
    codec: AvroCodec
    policies: PolicyManager
    """This worker's policies: fed by the ``policies`` GlobalTable, or by a retrying reader
    of the topic when the worker could not read it at start (see :func:`build_app`)."""
    counters: dict[str, int] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        """Bump a process-local counter (exposed on /metrics and /readyz)."""
        self.counters[name] = self.counters.get(name, 0) + n

    def gauge(self, name: str, value: float) -> None:
        """Set a process-local gauge (exposed on /metrics)."""
        self.gauges[name] = value


def faust_options(settings: Settings) -> dict[str, Any]:
    """Faust settings derived from ours."""
    return {
        "broker": settings.broker,
        "broker_credentials": faust_credentials(settings),
        "store": settings.store,
        "datadir": str(settings.data_dir),
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "web_bind": settings.web_host,
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication_factor,
        "table_standby_replicas": settings.table_standby_replicas,
        "processing_guarantee": settings.processing_guarantee,
        # Sent at once, always. Under exactly_once a commit falling between an event's sends
        # and its ack made the outputs durable while the input was processed again after a
        # crash; the commit gate (streams.commit_gate) now keeps every commit out of a unit
        # of work, so each send lands in the transaction that commits its input's offset.
        # Faust's publish-on-commit attachments, the earlier answer, outlive a rebalance's
        # seek back and were published twice (tests/integration/test_faults.py, sigkill).
        "stream_publish_on_commit": False,
        "consumer_auto_offset_reset": settings.consumer_auto_offset_reset,
        "broker_commit_interval": settings.broker_commit_interval_s,
        "topic_allow_declare": True,
        "topic_disable_leader": True,
        "autodiscover": False,
        "web_in_thread": False,
        "producer_max_request_size": 16 * 1024 * 1024,
        "consumer_max_fetch_size": 16 * 1024 * 1024,
        "broker_max_poll_records": settings.events_batch_max,
    }


def _declare_topics(app: faust.App, settings: Settings) -> Topics:
    made: dict[str, faust.TopicT] = {}
    for spec in topic_specs(settings):
        made[spec.name] = app.topic(
            spec.name,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.topic_partitions,
            compacting=spec.compacted or None,
            deleting=None if spec.compacted else True,
            retention=spec.retention_ms / 1000.0 if spec.retention_ms else None,
        )
    return Topics(
        frames=made[FRAMES],
        events=made[EVENTS],
        anonymized=made[ANONYMIZED],
        health=made[HEALTH],
        transitions=made[TRANSITIONS],
        policies=made[POLICIES],
        audit=made[POLICIES_AUDIT],
        deadletter=made[DEADLETTER],
    )


def _declare_tables(
    app: faust.App, settings: Settings, topics: Topics, policy_table: bool = True
) -> Tables:
    tables = Tables()
    # --- tables: declare below, one block per owning package -----------------------------
    # --- policies (owner: streams/policy, agents/policies.py) ----------------------------
    # GlobalTable "policies" fed by the compacted service.policies: every worker holds every
    # policy and applies changes as they arrive (no restart). Not declared when the topic was
    # unreadable at start: Faust's recovery would wait for it forever, frames with it.
    if policy_table:
        tables.by_name["policies"] = declare_policy_table(app, settings, topics.policies)
    # --- end policies ----------------------------------------------------------------------
    # --- resilience (owner: streams/resilience, agents/events.py, agents/breakers.py) -------
    # Tables "breakers" and "camera_health": changelog-backed, keyed by camera_id, with
    # topic_partitions partitions (co-partitioned with camera.frames / camera.events).
    tables.by_name.update(declare_resilience_tables(app, settings))
    # --- end resilience --------------------------------------------------------------------
    return tables


def build_app(
    settings: Settings, codec: AvroCodec | None = None, policy_source: PolicySource | None = None
) -> CamguardApp:
    """Create the Faust app, its topics and tables from ``settings``.

    ``policy_source``: feed the policies from it instead of the ``policies`` GlobalTable (a
    worker that could not read service.policies at start); until its backlog is in, the
    privacy lookup fails and frames are blurred with every kind (fail closed).
    """
    app = LaneApp(settings.app_id, **faust_options(settings))
    topics = _declare_topics(app, settings)
    tables = _declare_tables(app, settings, topics, policy_table=policy_source is None)
    if policy_source is None:
        policies = policy_manager_of(tables.by_name["policies"])
    else:
        policies = PolicyManager.from_settings(
            settings, source=policy_source, fail_closed_until_ready=True
        )
    return CamguardApp(app, settings, topics, tables, codec or AvroCodec(), policies)
