"""Records, sources and command-line parsing of the gateway (no broker)."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest

from streams.cli.gateway import add_gateway_parser, camera_specs
from streams.codec import AvroCodec
from streams.contract import EVENTS, FRAMES
from streams.contract.records import EventKind
from streams.gateway.camera_records import event_record, frame_record
from streams.gateway.frame_sources import encode_jpeg, render_synthetic
from streams.gateway.service import queue_name


def test_topic_names_are_the_design_contract() -> None:
    # docs/architecture.md's topic table; the gateway sends to, and the workers declare, these
    assert (FRAMES, EVENTS) == ("camera.frames", "camera.events")


def test_frame_and_event_records_encode_with_the_avro_schemas() -> None:
    codec = AvroCodec()
    frame = frame_record(
        camera_id="cam-1", seq=7, captured_ms=1_700_000_000_000, data=b"jpeg", width=4, height=3
    )
    name, decoded = codec.decode(codec.encode("Frame", frame))
    assert name.endswith("Frame")
    assert (decoded["seq"], decoded["encoding"], decoded["data"]) == (7, "JPEG", b"jpeg")
    event = event_record(
        event_id="e1",
        camera_id="cam-1",
        kind=EventKind.FRAME_OK,
        occurred_ms=1_700_000_000_000,
        latency_ms=3.5,
        attributes={"seq": "7"},
    )
    decoded = codec.decode_as("CameraEvent", codec.encode("CameraEvent", event))
    assert (decoded["kind"], decoded["latency_ms"], decoded["attributes"]) == (
        "FRAME_OK",
        3.5,
        {"seq": "7"},
    )


def test_synthetic_scene_is_deterministic_moving_and_encodes_to_jpeg() -> None:
    first = render_synthetic(10, 320, 180, seed=1)
    assert np.array_equal(first, render_synthetic(10, 320, 180, seed=1))
    assert not np.array_equal(first, render_synthetic(11, 320, 180, seed=1))
    decoded = cv2.imdecode(np.frombuffer(encode_jpeg(first), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (180, 320, 3)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_gateway_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["gateway", *argv])


def test_cameras_n_makes_simulated_ids_with_one_source() -> None:
    specs = camera_specs(parse("--cameras", "3", "--fps", "2", "--org-id", "acme"))
    assert [s.camera_id for s in specs] == ["cam-1", "cam-2", "cam-3"]
    assert {(s.source, s.fps, s.org_id) for s in specs} == {("synthetic", 2.0, "acme")}


def test_repeated_camera_ids_pair_with_repeated_sources() -> None:
    args = parse(
        "--camera-id", "a", "--source", "x.mp4", "--camera-id", "b", "--source", "synthetic"
    )
    assert [(s.camera_id, s.source) for s in camera_specs(args)] == [
        ("a", "x.mp4"),
        ("b", "synthetic"),
    ]


@pytest.mark.parametrize(
    "argv",
    [
        (),
        ("--camera-id", "a", "--camera-id", "a"),
        ("--cameras", "3", "--source", "a", "--source", "b"),
    ],
)
def test_inconsistent_camera_arguments_are_refused(argv: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        camera_specs(parse(*argv))


def test_queue_names_are_safe_and_distinct() -> None:
    assert queue_name(["lobby/1"]) == "gw-lobby_1"
    assert queue_name(["a", "b"]) == queue_name(["b", "a"])
    assert queue_name(["a", "b"]) != queue_name(["a", "c"])
