"""The ids a cycle makes in bulk are version-7 UUIDs like fairshare.ids.new_id makes."""

from __future__ import annotations

import uuid

from fairshare.ids import new_id
from fairshare.ledger.store import new_ids


def test_bulk_ids_are_increasing_unique_version_7_uuids() -> None:
    """Ten thousand ids (past 4,096 in one millisecond): valid, unique, in order, and later
    than an id made just before them."""
    before = new_id()
    ids = new_ids(10_000)
    assert len(set(ids)) == len(ids) and ids == sorted(ids) and before < ids[0]
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)
    assert new_ids(0) == []
