"""Time-ordered record identifiers."""

from __future__ import annotations

import uuid

from fairshare.ids import new_id


def test_ids_are_version_7_uuids() -> None:
    """Identifiers are valid RFC 9562 version-7 UUIDs."""
    value = uuid.UUID(new_id())
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_ids_increase_and_do_not_repeat() -> None:
    """Many ids made in a burst are unique and sort in creation order."""
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
