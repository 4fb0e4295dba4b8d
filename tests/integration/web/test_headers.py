"""Security headers on every page, and no inline script or style anywhere in the templates."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from fairshare.identity.model import Purpose, Role
from fairshare.web import rendering
from fairshare.web.access import WEB_ROUTES
from tests.integration.web.conftest import Registered, UserFactory, log_in

INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def assert_page_headers(response: Response) -> None:
    headers = response.headers
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"


class _Ids(dict[str, str]):
    """Path parameters: the registered person's, and "none" for ids that need not exist (the
    headers are checked on refusals and not-found pages too)."""

    def __missing__(self, key: str) -> str:
        return "none"


def _paths(registered: Registered) -> list[str]:
    ids = _Ids(
        person_id=registered.person_id,
        household_id=registered.household_id,
        breakdown="region",
    )
    return [
        path.format_map(ids) for method, path in WEB_ROUTES if method == "GET" and path != "/static"
    ]


@pytest.mark.parametrize(
    ("role", "purpose"),
    [
        (None, None),
        (Role.CASEWORKER, Purpose.CASE_MANAGEMENT),
        (Role.CITIZEN, None),
        (Role.AUDITOR, None),
        (Role.ADMINISTRATOR, Purpose.ADMINISTRATION),
        (Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN),
    ],
)
def test_every_page_carries_the_security_headers(
    web: TestClient,
    make_user: UserFactory,
    registered: Registered,
    role: Role | None,
    purpose: Purpose | None,
) -> None:
    """Allowed, refused and redirected pages alike: CSP without inline code, no-store, ..."""
    if role is not None:
        make_user(role, "someone", person_id=registered.person_id if role is Role.CITIZEN else None)
        log_in(web, "someone", purpose)
    for path in [*_paths(registered), "/no-such-page"]:
        response = web.get(path, follow_redirects=False)
        assert_page_headers(response)
        assert response.status_code < 500, path
    refused = web.post("/logout", data={"csrf_token": "forged"})
    assert_page_headers(refused)


def test_static_files_are_cacheable_but_typed_and_framed_never(web: TestClient) -> None:
    """The stylesheet is cached (its URL carries a digest) with the same protections."""
    response = web.get(rendering.static_url("fairshare.css"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "max-age" in response.headers["cache-control"]


def test_templates_hold_no_inline_script_style_or_handlers() -> None:
    """CSP forbids inline code; the templates are checked so none creeps in."""
    for path in rendering.TEMPLATES.rglob("*.html"):
        match = INLINE.search(path.read_text(encoding="utf-8"))
        assert match is None, f"{path.name}: {match.group(0) if match else ''}"


def test_api_keeps_its_own_headers(web: TestClient) -> None:
    """The API answers keep the API's headers; the docs page keeps its scripts."""
    api = web.get("/api/v1/catalogue/fields")
    assert api.headers["x-content-type-options"] == "nosniff"
    docs = web.get("/docs")
    assert "content-security-policy" not in docs.headers
