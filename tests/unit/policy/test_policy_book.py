"""Version ordering and tombstones of the in-memory policy book."""

from __future__ import annotations

from dataclasses import replace

from streams.policy.resolve import Outcome, PolicyBook, PolicyRow

ROW = PolicyRow("r1", "camguard", "privacy", "acme", "cam-1", 2, {"blur_strength": 0.4}, 1000)


def test_newer_version_applies_and_older_is_ignored() -> None:
    book = PolicyBook()
    assert book.upsert(ROW) is Outcome.APPLIED
    v3 = replace(ROW, version=3, config={"blur_strength": 0.9}, updated_at_ms=2000)
    assert book.upsert(v3) is Outcome.APPLIED
    assert book.upsert(ROW) is Outcome.STALE
    assert book.get(ROW.key) == v3


def test_same_id_and_version_is_a_duplicate() -> None:
    book = PolicyBook()
    book.upsert(ROW)
    assert book.upsert(ROW) is Outcome.DUPLICATE
    assert len(book) == 1


def test_tombstone_removes_and_blocks_late_updates_of_the_deleted_row() -> None:
    book = PolicyBook()
    book.upsert(ROW)
    assert book.delete(ROW.key) is Outcome.DELETED
    assert book.get(ROW.key) is None
    assert book.upsert(ROW) is Outcome.STALE
    assert book.upsert(replace(ROW, version=3, updated_at_ms=3000)) is Outcome.APPLIED


def test_recreated_row_with_a_new_id_is_accepted_after_delete() -> None:
    book = PolicyBook()
    book.upsert(ROW)
    book.delete(ROW.key)
    fresh = replace(ROW, id="r2", version=1, updated_at_ms=5000)
    assert book.upsert(fresh) is Outcome.APPLIED


def test_delete_of_an_older_version_is_stale() -> None:
    book = PolicyBook()
    book.upsert(replace(ROW, version=4))
    assert book.delete(ROW.key, "r1", 3) is Outcome.STALE
    assert book.get(ROW.key) is not None
    assert book.delete("camguard/privacy/*/*") is Outcome.ABSENT


def test_rows_are_listed_per_service_and_type() -> None:
    book = PolicyBook()
    book.upsert(ROW)
    book.upsert(replace(ROW, id="h", policy_type="health", config={}))
    book.upsert(replace(ROW, id="x", service_name="other"))
    assert [r.id for r in book.rows_for("camguard", "privacy")] == ["r1"]
    assert {r.id for r in book.rows_for("camguard")} == {"r1", "h"}
