"""Which cameras' health the health timer publishes, and what it remembers (pure).

agents/health_timer.py reads the camera_health rows of its worker every
``health_publish_interval_s``, publishes :meth:`HealthChanges.changed` to ``camera.health``
and the health store, and reports back what the store's publisher took
(:meth:`HealthChanges.published_ones`): a camera the publisher refused (its buffer full) is
offered again at the next tick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from streams.resilience.health import HealthConfig, HealthSnapshot, HealthState, snapshot

HealthConfigFor = Callable[[str | None, str], HealthConfig]
"""(org_id, camera_id) -> the camera's health config under the policies in force."""


@dataclass
class HealthChanges:
    """What was published last, per camera: (health version, online)."""

    published: dict[str, tuple[int, bool]] = field(default_factory=dict)

    def changed(
        self,
        rows: Iterable[tuple[str, HealthState]],
        config_for: HealthConfigFor,
        now: float,
    ) -> list[tuple[int, HealthSnapshot]]:
        """(version, snapshot) of each camera whose health moved since it was last published:
        its version, or online/offline after a silence."""
        found = []
        for camera_id, state in rows:
            snap = snapshot(state, now, config_for(state.org_id, camera_id))
            if self.published.get(camera_id) != (state.version, snap.online):
                found.append((state.version, snap))
        return found

    def published_ones(
        self, changed: Iterable[tuple[int, HealthSnapshot]], taken: set[str]
    ) -> None:
        """Remember the snapshots in ``changed`` whose camera is in ``taken``."""
        for version, snap in changed:
            if snap.camera_id in taken:
                self.published[snap.camera_id] = (version, snap.online)
