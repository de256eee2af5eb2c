"""Build the worker: the app from streams/app.py with every agent, timer and view installed."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import faust
from aiokafka.errors import KafkaError

from agents import events as event_agents
from agents import frames as frame_agents
from agents import health_timer as health_agents
from agents import policies as policy_agents
from streams import gctune
from streams.anonymize.frame_decisions import privacy_from
from streams.app import POLICIES, CamguardApp, TopicSpec, build_app, topic_specs
from streams.faust_edge.worker_hooks import FirstSignalWorker
from streams.kafka_security import aiokafka_kwargs, check_broker
from streams.policy.sources import RETRY_S, PolicySource, RetryingSource
from streams.policy.topic import KafkaPolicySource, topic_refusal
from streams.resilience.changelogs import changelog_topic_specs
from streams.settings import Settings
from streams.topics import ensure_topics
from streams.web import cameras as camera_views
from streams.web import dashboard as dashboard_views
from streams.web import liveness as liveness_views
from streams.web import metrics as metrics_views
from streams.web import openapi_view as openapi_views
from streams.web import policies as policy_views


def build_worker(settings: Settings, policy_source: PolicySource | None = None) -> CamguardApp:
    """The app with all agents and views installed (nothing runs until the worker starts);
    ``policy_source``: see :func:`streams.app.build_app`."""
    cg = build_app(settings, policy_source=policy_source)
    liveness_views.install(cg)
    metrics_views.install(cg)
    dashboard_views.install(cg)
    policies = policy_agents.install(cg)
    policy_views.install(cg)
    event_agents.install(cg)
    frame_agents.install(cg, privacy=privacy_from(policies.effective_privacy))
    health_agents.install(cg)
    camera_views.install(cg)
    openapi_views.install(cg)
    return cg


log = logging.getLogger(__name__)


def worker_topic_specs(settings: Settings) -> list[TopicSpec]:
    """The contract topics and the camera tables' changelogs, created before the worker joins.

    Created first so that the tables' changelog partitions are in the very first assignment
    (see streams/resilience/changelogs.py) and compacted topics get their cleanup policy.
    """
    return [*topic_specs(settings), *changelog_topic_specs(settings)]


async def prepare_topics(settings: Settings, within_s: float = 30.0) -> list[str]:
    """Create missing topics; a broker that is not up yet only costs a warning."""
    try:
        async with asyncio.timeout(within_s):
            return await ensure_topics(settings, worker_topic_specs(settings))
    except (KafkaError, TimeoutError, OSError) as exc:
        log.warning("could not create topics before start (%r); Faust will declare them", exc)
        return []


async def preflight(settings: Settings) -> list[str]:
    """Check TLS / SASL against the broker, then create missing topics.

    Raises :class:`~streams.kafka_security.KafkaSecurityError` (authentication failed,
    certificate verify failed): Faust would retry those forever without saying why.
    """
    check = await check_broker(settings)
    if not check.reachable:
        log.warning("Kafka not reachable before start (%s); Faust keeps trying", check.detail)
    return await prepare_topics(settings)


EXIT_SHUTDOWN_STUCK = 70
"""Exit status when the shutdown deadline passed (EX_SOFTWARE)."""


def arm_exit_deadline(
    limit_s: float, exit_now: Callable[[int], object] = os._exit
) -> threading.Timer | None:
    """Exit the process ``limit_s`` seconds from now unless it has exited by then.

    Faust's shutdown commits offsets through the consumer thread; when the broker goes away
    or the group rebalances at that moment the commit can wait forever and the process never
    exits (seen in CI: two workers stopped at once while the group rebalanced). Whatever was
    not committed is processed again by the partition's next owner (table rows skip what they
    hold), so leaving is safe; hanging is not.
    """
    if limit_s <= 0:
        return None

    def expire() -> None:
        log.error("shutdown still running after %.0f s: exiting now", limit_s)
        for handler in logging.getLogger().handlers:
            handler.flush()
        exit_now(EXIT_SHUTDOWN_STUCK)

    timer = threading.Timer(limit_s, expire)
    timer.daemon = True
    timer.start()
    return timer


class CamguardWorker(FirstSignalWorker):
    """Faust's worker, plus GC tuning once started and a shutdown deadline."""

    def __init__(self, app: faust.App, settings: Settings, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.camguard_settings = settings

    def on_first_signal(self) -> None:
        arm_exit_deadline(self.camguard_settings.shutdown_timeout_s)

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        if self.camguard_settings.gc_freeze:
            gctune.freeze_long_lived()


async def policies_at_start(settings: Settings) -> PolicySource | None:
    """None when service.policies can be read now (the ``policies`` GlobalTable feeds the
    worker, and frames wait for its recovery as for any table); else a retrying reader of it.

    A topic this worker may not read (an ACL), or one the broker says is missing, would hold
    Faust's recovery, and every frame with it, until someone fixes it. Instead the worker
    starts without the table: until the reader has read the topic, every frame is blurred
    with every kind, with policy version null (the privacy lookup's fail-closed answer); then
    the policies apply as usual, without a restart. Said once here at ERROR, on GET /policies
    (``ready: false``) and in the counters (``frames.privacy_lookup_failed.policies_not_loaded``).
    """
    security = aiokafka_kwargs(settings)
    refusal = await topic_refusal(settings.bootstrap_servers, POLICIES, security=security)
    if refusal is None:  # readable, or no broker yet: Faust waits for the broker as usual
        return None
    log.error(
        "cannot read %s at start (%s): frames are served fail-closed (every kind blurred, "
        "policy version null) until it is read; retrying every %.0f s",
        POLICIES,
        refusal,
        RETRY_S,
    )
    return RetryingSource(
        KafkaPolicySource(settings.bootstrap_servers, POLICIES, security=security)
    )


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Run a worker in the foreground until SIGTERM/SIGINT."""
    asyncio.run(preflight(settings))
    policy_source = asyncio.run(policies_at_start(settings))
    gctune.configure(settings.gc_gen0_threshold)
    cg = build_worker(settings, policy_source)
    worker = CamguardWorker(cg.app, settings, loglevel=loglevel, redirect_stdouts=False)
    # Faust's terminal spinner sets the root logger to DEBUG for good when the level is WARN or
    # above (every debug call then builds a LogRecord); a service has no use for a spinner.
    worker.spinner = None
    worker.execute_from_commandline()
