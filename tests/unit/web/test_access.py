"""The authorisation table, the menu built from it, and the small guards of the web layer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fairshare.audit.model import Tag
from fairshare.identity.model import Role
from fairshare.web import csrf
from fairshare.web.access import ANYONE, WEB_ROUTES, allows
from fairshare.web.auth import safe_next
from fairshare.web.labels import ACTION_LABELS
from fairshare.web.navigation import MENU, menu_for
from fairshare.web.rendering import moment


def test_every_menu_item_is_a_page_in_the_table() -> None:
    """A menu link always points at a GET page the table knows."""
    for item in MENU:
        assert ("GET", item.path) in WEB_ROUTES


def test_menus_follow_the_table() -> None:
    """Each role sees only its pages; everyone sees the public page."""
    assert [i.path for i in menu_for(None)] == ["/transparency"]
    assert "/admin/users" in [i.path for i in menu_for(Role.ADMINISTRATOR)]
    assert all(not i.path.startswith("/admin") for i in menu_for(Role.CASEWORKER))
    assert all(not i.path.startswith("/caseworker") for i in menu_for(Role.CITIZEN))


def test_unknown_routes_are_open_to_no_one() -> None:
    """A route missing from the table is refused to every role."""
    assert not allows(("GET", "/nowhere"), Role.ADMINISTRATOR)
    assert allows(("GET", "/transparency"), None)
    assert not allows(("GET", "/me"), None)
    assert WEB_ROUTES[("GET", "/login")] == ANYONE


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/me/access", "/me/access"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_only_local_paths_are_followed_after_a_form(target: str | None, expected: str) -> None:
    """After login or a language switch the browser goes to a page of this site only."""
    assert safe_next(target) == expected


def test_csrf_tokens_match_only_exactly() -> None:
    """Missing tokens never match; the pre-session token depends on the secret key."""
    assert csrf.matches("abc", "abc")
    assert not csrf.matches("abc", "abd")
    assert not csrf.matches("", "")
    assert not csrf.matches(None, "abc")
    presession = csrf.new_presession()
    one, two = (csrf.presession_token(key, presession) for key in ("key one", "key two"))
    assert one != two


def test_times_are_shown_in_utc_to_the_minute() -> None:
    """Datetimes and ISO text read the same on every page."""
    assert moment(datetime(2026, 11, 30, 14, 5, 59, tzinfo=UTC)) == "2026-11-30 14:05 UTC"
    assert moment("2026-11-30T14:05:59+00:00") == "2026-11-30 14:05 UTC"


def test_every_access_log_action_has_words() -> None:
    """People read their access report in words: each kind of access needs a label."""
    missing = sorted(tag.value for tag in Tag if tag.value not in ACTION_LABELS)
    assert missing == [], "add these to ACTION_LABELS in fairshare/web/labels.py"
