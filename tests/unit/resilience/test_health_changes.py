"""The health timer's choice of cameras to publish (streams/resilience/health_changes.py)."""

from __future__ import annotations

from streams.resilience.health import HealthConfig, HealthState
from streams.resilience.health_changes import HealthChanges

NOW = 1_700_000_000.0
CONFIG = HealthConfig(offline_after_s=60.0)


def config_for(org_id: str | None, camera_id: str) -> HealthConfig:
    return CONFIG


def test_a_camera_is_published_when_its_health_moves_and_not_again_until_then() -> None:
    changes = HealthChanges()
    rows = [
        (
            "cam-1",
            HealthState("cam-1", version=3, online=True, last_seen=NOW - 1, last_frame_at=NOW - 1),
        ),
        (
            "cam-2",
            HealthState("cam-2", version=1, online=True, last_seen=NOW - 1, last_frame_at=NOW - 1),
        ),
    ]
    first = changes.changed(rows, config_for, NOW)
    assert [(v, s.camera_id) for v, s in first] == [(3, "cam-1"), (1, "cam-2")]
    changes.published_ones(first, {"cam-1"})  # the store's buffer refused cam-2
    again = changes.changed(rows, config_for, NOW)
    assert [s.camera_id for _, s in again] == ["cam-2"], "refused: offered again"
    changes.published_ones(again, {"cam-2"})
    assert changes.changed(rows, config_for, NOW) == []
    moved = [
        ("cam-1", HealthState("cam-1", version=4, online=True, last_seen=NOW, last_frame_at=NOW))
    ]
    assert [v for v, _ in changes.changed(moved, config_for, NOW)] == [4]


def test_a_silent_camera_is_published_again_when_it_goes_offline() -> None:
    changes = HealthChanges()
    rows = [
        ("cam-1", HealthState("cam-1", version=3, online=True, last_seen=NOW, last_frame_at=NOW))
    ]
    changes.published_ones(changes.changed(rows, config_for, NOW), {"cam-1"})
    later = changes.changed(rows, config_for, NOW + 61)  # same version, silent past offline_after_s
    assert [(s.camera_id, s.online) for _, s in later] == [("cam-1", False)]
