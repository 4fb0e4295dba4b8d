"""Roles hold fixed purposes; health data only under purposes that need it."""

from __future__ import annotations

import pytest

from fairshare.identity.model import (
    HEALTH_PURPOSES,
    ROLE_PURPOSES,
    Actor,
    Purpose,
    PurposeNotAllowed,
    Role,
    UnknownPurpose,
    parse_purpose,
    require_purpose,
)


def test_every_role_has_purposes() -> None:
    """Each role has at least one purpose and every purpose belongs to some role."""
    assert all(ROLE_PURPOSES[role] for role in Role)
    assert set().union(*ROLE_PURPOSES.values()) == set(Purpose)


@pytest.mark.parametrize(
    ("role", "purpose"),
    [
        (Role.MERCHANT, Purpose.CASE_MANAGEMENT),
        (Role.PROGRAMME_OFFICER, Purpose.HEALTH_ASSESSMENT),
        (Role.AUDITOR, Purpose.REGISTRATION),
        (Role.CITIZEN, Purpose.CASE_MANAGEMENT),
        (Role.ADMINISTRATOR, Purpose.CASE_MANAGEMENT),
    ],
)
def test_purpose_outside_role_is_refused(role: Role, purpose: Purpose) -> None:
    """A role cannot act for a purpose it does not hold."""
    with pytest.raises(PurposeNotAllowed) as error:
        require_purpose(role, purpose, frozenset(Purpose))
    assert error.value.status == 403
    assert role.value in str(error.value)


def test_purpose_must_cover_the_operation() -> None:
    """A purpose the role holds is still refused for an operation that does not accept it."""
    with pytest.raises(PurposeNotAllowed, match="does not cover"):
        require_purpose(
            Role.CASEWORKER, Purpose.DUPLICATE_REVIEW, frozenset({Purpose.HEALTH_ASSESSMENT})
        )


def test_health_is_seen_only_under_health_purposes() -> None:
    """Only actors acting for a health purpose see health values."""
    assert Actor("a", Role.CASEWORKER, Purpose.HEALTH_ASSESSMENT).sees_health
    assert not Actor("a", Role.CASEWORKER, Purpose.CASE_MANAGEMENT).sees_health
    assert Purpose.REDEMPTION not in HEALTH_PURPOSES
    assert Purpose.PROGRAMME_DESIGN not in HEALTH_PURPOSES


@pytest.mark.parametrize("raw", [None, "", "loyalty_scoring", "x" * 500])
def test_unknown_purpose_lists_the_valid_ones(raw: str | None) -> None:
    """A missing or unknown purpose is refused with the list of valid purposes."""
    with pytest.raises(UnknownPurpose) as error:
        parse_purpose(raw)
    assert "case_management" in str(error.value)
    assert len(str(error.value)) < 1000
