"""The access-log hash chain: any change, removal, reordering or truncation is caught."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from fairshare.audit.model import (
    GENESIS_HASH,
    AccessEntry,
    AccessRequest,
    canonical_json,
    chain,
    verify,
)

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def entries(count: int = 5) -> list[AccessEntry]:
    requests = [
        AccessRequest(
            f"user{i}",
            "caseworker",
            "case_management",
            "registry:person:read",
            "person",
            f"p{i}",
            ("given_names",),
        )
        for i in range(count)
    ]
    return chain(requests, 0, GENESIS_HASH, AT)


def test_intact_chain_verifies() -> None:
    """An untouched chain verifies, counting every entry."""
    log = entries()
    result = verify(log, 5, log[-1].hash)
    assert result.ok
    assert result.entries_checked == 5


def test_empty_chain_verifies() -> None:
    """An empty log with a genesis head is intact."""
    assert verify([], 0, GENESIS_HASH).ok


def test_changed_content_is_named() -> None:
    """Changing an entry's purpose names that entry."""
    log = entries()
    log[2] = replace(log[2], purpose="audit")
    result = verify(log, 5, log[-1].hash)
    assert not result.ok
    assert result.first_bad_sequence == 3
    assert "content" in result.problem


def test_rehashed_change_breaks_the_next_link() -> None:
    """Recomputing a changed entry's own hash still breaks the link of the entry after it."""
    log = entries()
    forged = chain(
        [
            AccessRequest(
                "mallory", "caseworker", "case_management", "registry:person:read", "person", "p2"
            )
        ],
        2,
        log[1].hash,
        AT,
    )[0]
    log[2] = forged
    result = verify(log, 5, log[-1].hash)
    assert not result.ok
    assert result.first_bad_sequence == 4


def test_removed_entry_is_named() -> None:
    """Deleting an entry from the middle is detected at its position."""
    log = entries()
    del log[1]
    result = verify(log, 5, log[-1].hash)
    assert not result.ok
    assert result.first_bad_sequence == 2


def test_reordered_entries_are_detected() -> None:
    """Swapping two entries is detected."""
    log = entries()
    log[1], log[2] = log[2], log[1]
    assert not verify(log, 5, log[-1].hash).ok


def test_truncated_tail_is_detected() -> None:
    """Cutting entries off the end is caught by the stored chain head."""
    log = entries()
    head = log[-1].hash
    result = verify(log[:3], 5, head)
    assert not result.ok
    assert "removed from the end" in result.problem


@given(
    st.integers(min_value=0, max_value=7),
    st.sampled_from(["actor", "role", "purpose", "action", "subject_id", "outcome"]),
    st.text(min_size=1),
)
def test_any_single_field_change_is_caught(index: int, field: str, value: str) -> None:
    """Whatever field of whatever entry changes, verification fails at or before the end."""
    log = entries(8)
    if getattr(log[index], field) == value:
        return
    log[index] = replace(log[index], **{field: value})
    result = verify(log, 8, log[-1].hash)
    assert not result.ok
    assert result.first_bad_sequence == index + 1


def test_naive_timestamps_hash_as_utc() -> None:
    """SQLite returns naive datetimes; they verify as the UTC times they were stored as."""
    log = entries(2)
    naive = [replace(e, at=e.at.replace(tzinfo=None)) for e in log]
    assert verify(naive, 2, log[-1].hash).ok


@given(
    st.text(),
    st.text(),
    st.text(),
    st.text(),
    st.text(),
    st.text(),
    st.lists(st.text(), max_size=5),
    st.integers(min_value=1, max_value=10**12),
)
def test_canonical_form_is_sorted_compact_json(
    actor: str,
    role: str,
    purpose: str,
    action: str,
    subject: str,
    outcome: str,
    fields: list[str],
    sequence: int,
) -> None:
    """The hand-written canonical form is byte-identical to json.dumps with sorted keys."""
    request = AccessRequest(actor, role, purpose, action, "person", subject, tuple(fields), outcome)
    at_text = AT.isoformat(timespec="milliseconds")
    body = {
        "sequence": sequence,
        "at": at_text,
        "actor": actor,
        "role": role,
        "purpose": purpose,
        "action": action,
        "subject_type": "person",
        "subject_id": subject,
        "fields": sorted(fields),
        "outcome": outcome,
        "previous_hash": GENESIS_HASH,
    }
    expected = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(sequence, at_text, request, GENESIS_HASH) == expected
