"""The offline till in a real browser (Debian's Chromium) against the real server: set up
while online, go offline, reopen the page from the service worker, redeem within the
allowance and be refused beyond it, come back online and sync through the ledger.

Skipped like the other browser tests when Chromium or Playwright is missing, unless
FAIRSHARE_REQUIRE_BROWSER=1. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from fairshare.bootstrap import Services
from fairshare.credentials.offline import offline_maximum
from fairshare.credentials.orm import offline_receipts
from fairshare.db import UnitOfWork, make_engine
from fairshare.identity import services as identity
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ledger.cycles import Cycles
from fairshare.settings import Settings
from tests.conftest import actor
from tests.e2e.test_browser import (  # noqa: F401 (browser: fixture)
    DESKTOP,
    PHONE,
    _server,
    axe_problems,
    browser,
    log_in,
    shoot,
    wait_until,
)
from tests.e2e.test_server import PASSWORD, Server
from tests.integration.eligibility.conftest import population  # noqa: F401 (fixture)
from tests.integration.ledger.conftest import (  # noqa: F401 (fixtures)
    IN_PERIOD,
    PERIOD,
    World,
    cycles,
    disburser,
    ledger,
    world,
)

with contextlib.suppress(ImportError):  # the browser fixture skips or fails without it
    from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.xdist_group("browser")

ISSUER = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT, username="card-desk")
PENSION = 13_000  # what the June pension cycle pays p1


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    with _server(tmp_path) as server:
        yield server, tmp_path


@pytest.fixture
def services(running: tuple[Server, Path]) -> Iterator[Services]:
    """Services on the server's own database and keys, to set the world up and to look."""
    server, tmp_path = running
    settings = Settings(
        environment="test",
        var_dir=tmp_path / "var",
        key_dir=tmp_path / "keys",
        database_url=server.database_url,
    )
    engine = make_engine(server.database_url)
    try:
        yield Services(settings, engine)
    finally:
        engine.dispose()


def test_a_till_redeems_offline_and_syncs_when_back_online(
    browser: Browser,  # noqa: F811
    running: tuple[Server, Path],
    services: Services,
    world: World,  # noqa: F811
    cycles: Cycles,  # noqa: F811
    disburser: Actor,  # noqa: F811
) -> None:
    """Offline, the page opens from the service worker, a revoked card is refused and a good
    card's signature is checked;
    within the allowance a receipt is recorded, beyond it nothing; back online the sync posts
    the one receipt, and the other never reaches the server."""
    server, _ = running
    cycles.run(disburser, "old_age_pension", PERIOD, today=IN_PERIOD)
    identity.create_user(
        UnitOfWork(services.engine), "shop-till", PASSWORD, Role.MERCHANT, display_name="Till"
    )
    card = services.cards.issue(ISSUER, world.population.people["p1"])
    stolen = services.cards.issue(ISSUER, world.population.people["p4"])
    services.cards.revoke(ISSUER, stolen.card_id, "reported stolen")
    limit = offline_maximum(PENSION)  # 26.00
    assert limit == 2600

    context = browser.new_context(viewport=DESKTOP, locale="en-US")  # type: ignore[arg-type]
    console: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda message: console.append(message.text))
        log_in(page, server, "shop-till")
        page.goto(f"{server.base_url}/merchant/offline")
        page.locator("#offline-till[data-ready='true']").wait_for(state="attached")
        page.get_by_role("button", name="Set up this till").click()
        expect(page.locator("#device-message")).to_contain_text("The till is set up")
        expect(page.locator("#device-status")).to_contain_text("valid until")
        wait_until(page, "navigator.serviceWorker.controller !== null")
        shoot(page, "offline-till-set-up")

        context.set_offline(True)
        reloaded = page.reload()
        assert reloaded is not None and reloaded.from_service_worker
        page.locator("#offline-till[data-ready='true']").wait_for(state="attached")
        expect(page.locator("#connection")).to_contain_text("Offline")

        page.get_by_label("Card code").fill(stolen.qr_text)
        page.get_by_role("button", name="Check the card").click()
        expect(page.locator("#card-result")).to_contain_text("reported lost or stolen")
        expect(page.locator("#redeem-form")).to_be_hidden()

        page.get_by_label("Card code").fill(card.qr_text)
        page.get_by_role("button", name="Check the card").click()
        page.get_by_text("the signature is valid").wait_for()
        page.get_by_label("Amount").fill("10.00")
        page.get_by_role("button", name="Record the redemption").click()
        receipt = page.locator("#receipt")
        expect(receipt).to_be_visible()
        expect(receipt).to_contain_text("10.00 local currency")
        expect(page.locator("#receipt-rows")).to_contain_text("Waiting to sync")
        shoot(page, "offline-till-receipt")

        page.get_by_label("Amount").fill("20.00")  # 30.00 in all: over the 26.00 allowance
        page.get_by_role("button", name="Record the redemption").click()
        error = page.locator("#amount-error")
        expect(error).to_contain_text("more than this till may hand out offline")
        expect(error).to_contain_text("16.00 local currency left")
        expect(page.locator("#receipt-rows tr")).to_have_count(1)
        shoot(page, "offline-till-over-allowance")

        context.set_offline(False)  # the page syncs on the `online` event
        expect(page.locator("#connection")).to_contain_text("Online")
        expect(page.locator("#receipt-rows")).to_contain_text("Posted")
        expect(page.locator("#sync-status")).to_contain_text("1 posted")
        shoot(page, "offline-till-synced")
        assert axe_problems(page) == []
        page.set_viewport_size(PHONE)
        shoot(page, "offline-till-phone")
    finally:
        context.close()

    auditor = actor(Role.AUDITOR, Purpose.AUDIT)
    assert [t.amount for t in services.ledger.transfers(auditor, kind="redemption")] == [1000]
    with services.uow() as uow:
        sent = uow.connection.execute(
            select(offline_receipts.c.amount, offline_receipts.c.outcome)
        ).all()
    assert [(row.amount, row.outcome) for row in sent] == [(1000, "posted")]
    assert [m for m in console if "Content Security Policy" in m] == []
