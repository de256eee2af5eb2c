"""The record format: round trips, and any cut or flipped byte is caught by the scan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.spool.framing import (
    ACK_MAGIC,
    SEGMENT_MAGIC,
    RecordHeader,
    ScanStop,
    decode_body,
    encode_acks,
    encode_record,
    scan_acks,
    scan_records,
    verify_frame,
)

records = st.lists(
    st.tuples(st.one_of(st.none(), st.binary(max_size=20)), st.binary(max_size=300)),
    min_size=1,
    max_size=8,
)


def segment(items: list[tuple[bytes | None, bytes]]) -> tuple[bytes, list[int]]:
    data = bytearray(SEGMENT_MAGIC)
    ends = []
    for seq, (key, value) in enumerate(items, 1):
        data += encode_record(RecordHeader(seq, seq % 3, 1000 + seq, 9000 + seq), key, value)
        ends.append(len(data))
    return bytes(data), ends


@given(records)
def test_records_round_trip(items: list[tuple[bytes | None, bytes]]) -> None:
    data, _ = segment(items)
    scan = scan_records(data)
    assert scan.stop is None
    assert scan.valid_end == len(data)
    decoded = [
        decode_body(verify_frame(data[r.offset : r.offset + r.length]), None) for r in scan.records
    ]
    assert decoded == items
    assert [r.header.seq for r in scan.records] == list(range(1, len(items) + 1))


@given(records, st.data())
def test_a_cut_anywhere_keeps_exactly_the_whole_records(
    items: list[tuple[bytes | None, bytes]], data: st.DataObject
) -> None:
    raw, ends = segment(items)
    cut = data.draw(st.integers(len(SEGMENT_MAGIC), len(raw) - 1))
    scan = scan_records(raw[:cut])
    whole = [e for e in ends if e <= cut]
    assert len(scan.records) == len(whole)
    assert scan.valid_end == (whole[-1] if whole else len(SEGMENT_MAGIC))
    assert scan.stop == (None if scan.valid_end == cut else ScanStop.SHORT)


@given(records, st.data())
def test_a_flipped_byte_never_passes_as_a_valid_record(
    items: list[tuple[bytes | None, bytes]], data: st.DataObject
) -> None:
    raw, _ = segment(items)
    pos = data.draw(st.integers(len(SEGMENT_MAGIC), len(raw) - 1))
    damaged = bytearray(raw)
    damaged[pos] ^= 1 << data.draw(st.integers(0, 7))
    scan = scan_records(bytes(damaged))
    assert scan.stop is not None
    assert scan.valid_end <= pos


def test_ack_entries_round_trip() -> None:
    log = ACK_MAGIC + encode_acks([(1, 8), (1, 60)]) + encode_acks([(3, 8)])
    acked, end, stop = scan_acks(log)
    assert (acked, end, stop) == ({(1, 8), (1, 60), (3, 8)}, len(log), None)


def test_verify_frame_rejects_a_bad_crc() -> None:
    framed = bytearray(encode_record(RecordHeader(1, 1, 0, 0), None, b"value"))
    framed[-1] ^= 1
    with pytest.raises(ValueError, match="CRC"):
        verify_frame(bytes(framed))
