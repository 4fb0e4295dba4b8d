"""Cards and the point of sale in a real browser: a caseworker issues a card, a merchant types
its code, checks what may be redeemed, redeems and sees the receipt; the camera scanner reads
the card's QR code from Chromium's fake camera; the citizen shows their card full screen.

Same server and browser set-up as test_browser.py (Debian's Chromium, Uvicorn in a
subprocess, SQLite); the programme, the paid entitlement and the shop are put in the server's
database through the services, as an administrator and an officer would. Screenshots go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from fairshare.bootstrap import Services
from fairshare.credentials.render import qr_matrix
from fairshare.db import make_engine
from fairshare.identity import services as identity
from fairshare.identity.model import Purpose, Role
from fairshare.registry.services import MemberInput
from fairshare.settings import Settings
from tests.conftest import actor
from tests.e2e.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    _page,
    _server,
    _unavailable,
    axe_problems,
    log_in,
    menu,
    shoot,
    sync_playwright,
    wait_until,
)
from tests.e2e.test_server import PASSWORD, Server
from tests.integration.eligibility.conftest import REFERENCE, pension

with contextlib.suppress(ImportError):  # the fixtures skip, saying why, without it
    from playwright.sync_api import Browser, Page, Playwright

pytestmark = pytest.mark.xdist_group("browser")
PERIOD = "2025-06"
IN_PERIOD = date(2025, 6, 15)
WIDTH, HEIGHT = 640, 480  # the fake camera's frame


@dataclass(frozen=True)
class Shop:
    server: Server
    services: Services
    person_id: str  # holds a paid pension of 130.00
    neighbour_id: str  # holds one too; scanned from the fake camera


def _register(services: Services, given: str) -> str:
    household = services.registry.register_household(
        actor(Role.CASEWORKER, Purpose.REGISTRATION, username="luis.caseworker"),
        {"region": "Costa", "address": "Calle del Mercado 4"},
        [
            MemberInput(
                {
                    "given_names": given,
                    "family_names": "Huamán Soto",
                    "date_of_birth": "1950-03-10",
                    "sex": "female",
                    "relationship_to_head": "head",
                    "monthly_income": "100.00",
                }
            )
        ],
    )
    return household.members[0].id


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """One Playwright for the module: the camera test launches a second Chromium from it."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    if sync_playwright is None:
        _unavailable("the playwright Python package is not installed")
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def shop(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The server, with two pensioners paid for June, a shop and its till, and a citizen
    account for the first pensioner."""
    tmp = tmp_path_factory.mktemp("cards")
    with _server(tmp) as server:
        settings = Settings(
            environment="test",
            var_dir=tmp / "var",
            key_dir=tmp / "keys",
            database_url=server.database_url,
        )
        engine = make_engine(server.database_url)
        services = Services(settings, engine)
        person_id = _register(services, "Wenceslaa")
        neighbour_id = _register(services, "Eustaquia")
        designer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, username="pia.officer")
        services.eligibility.create_programme(designer, pension())
        services.eligibility.publish(designer, "old_age_pension")
        services.eligibility.run(designer, "old_age_pension", REFERENCE)
        treasurer = actor(Role.PROGRAMME_OFFICER, Purpose.DISBURSEMENT, username="pia.officer")
        services.ledger.fund(
            treasurer, "old_age_pension", 1_000_000, "budget-old_age_pension", "appropriation"
        )
        services.cycles.run(treasurer, "old_age_pension", PERIOD, today=IN_PERIOD)
        services.ledger.register_merchant(
            actor(Role.ADMINISTRATOR, Purpose.ADMINISTRATION, username="ada.admin"),
            code="tienda-1",
            name="Tienda Peña",
            category="shop",
            region="Costa",
            iban="ES9121000418450200051332",
            bic="CAIXESBBXXX",
            usernames=["tita.till"],
        )
        identity.create_user(services.uow(), "tita.till", PASSWORD, Role.MERCHANT)
        identity.create_user(
            services.uow(), "wen.citizen", PASSWORD, Role.CITIZEN, person_id=person_id
        )
        try:
            yield Shop(server, services, person_id, neighbour_id)
        finally:
            engine.dispose()


def _qr_text(shop: Shop, person_id: str) -> str:
    desk = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT, username="luis.caseworker")
    cards = [c for c in shop.services.cards.cards_of(desk, person_id) if c.revoked_at is None]
    if not cards:
        cards = [shop.services.cards.issue(desk, person_id)]
    return cards[0].qr_text


def test_a_merchant_redeems_by_typed_card_code(browser: Browser, shop: Shop) -> None:
    """The caseworker issues a card on the person's card page; the merchant types its code,
    checks it, sees the pension that may be redeemed, redeems 30.00 and gets the receipt."""
    base = shop.server.base_url
    with _page(browser) as page:
        log_in(page, shop.server, "luis.caseworker", "Case management")
        page.goto(f"{base}/caseworker/people/{shop.person_id}/cards")
        page.get_by_text("No card has been issued to this person.").wait_for()
        page.get_by_label("The person asked for a new card").check()
        page.get_by_role("button", name="Issue the card").click()
        page.get_by_text("The card was issued.").wait_for()
        assert page.get_by_role("cell", name="In use").is_visible()
        problems = axe_problems(page)
        shoot(page, "caseworker-card-issued")
        assert problems == [], problems

    code = _qr_text(shop, shop.person_id)
    with _page(browser) as page:
        log_in(page, shop.server, "tita.till")
        menu(page, "Point of sale")
        page.get_by_label("How the person proves who they are").select_option("card")
        page.get_by_label("Card code or verification id").fill(code)
        page.get_by_role("button", name="Check", exact=True).click()
        page.get_by_role("heading", name="What may be redeemed here").wait_for()
        assert page.get_by_role("cell", name="old_age_pension").is_visible()
        assert page.get_by_role("cell", name="130.00 local currency").is_visible()
        assert page.get_by_label("Beneficiary id").input_value() == shop.person_id
        assert page.get_by_label("Programme").input_value() == "old_age_pension"
        problems = axe_problems(page)
        shoot(page, "merchant-card-checked")
        assert problems == [], problems

        page.get_by_label("Amount").fill("30.00")
        page.get_by_role("button", name="Redeem").click()
        page.get_by_role("heading", name="Receipt").wait_for()
        assert page.get_by_text("30.00 local currency").is_visible()
        assert page.get_by_text("100.00 local currency").is_visible()
        shoot(page, "merchant-card-receipt")


def _fake_camera_video(text: str, path: Path) -> Path:
    """A Y4M video (what Chromium's fake camera plays) of the QR code, black on white."""
    modules = qr_matrix(text).astype(bool)
    module = HEIGHT // (modules.shape[0] + 8)  # pixels per module, with the quiet zone
    side = (modules.shape[0] + 8) * module
    image = np.full((HEIGHT, WIDTH), 235, dtype=np.uint8)
    code = np.where(np.kron(modules, np.ones((module, module), dtype=bool)), 16, 235)
    top, left = (HEIGHT - side) // 2 + 4 * module, (WIDTH - side) // 2 + 4 * module
    image[top : top + code.shape[0], left : left + code.shape[1]] = code
    chroma = np.full((HEIGHT // 2, WIDTH // 2), 128, dtype=np.uint8).tobytes()
    frame = b"FRAME\n" + image.tobytes() + chroma + chroma
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * 10)
    return path


@contextmanager
def _camera_page(playwright: Playwright, video: Path) -> Iterator[Page]:
    """A browser whose camera plays the video, with the permission granted."""
    arguments = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=arguments)
    try:
        with _page(launched) as page:
            page.context.grant_permissions(["camera"])
            yield page
    finally:
        launched.close()


def test_the_camera_scanner_fills_in_the_card_code(
    playwright: Playwright, shop: Shop, tmp_path: Path
) -> None:
    """ "Scan card" opens the (fake) camera, reads the QR code, fills in the card code and
    sets the method to card; the code then checks."""
    code = _qr_text(shop, shop.neighbour_id)
    video = _fake_camera_video(code, tmp_path / "card.y4m")
    with _camera_page(playwright, video) as page:
        log_in(page, shop.server, "tita.till")
        menu(page, "Point of sale")
        page.get_by_role("button", name="Scan card").click()
        page.get_by_text("Card code read.").wait_for(timeout=30_000)
        assert page.get_by_label("Card code or verification id").input_value() == code
        assert page.get_by_label("How the person proves who they are").input_value() == "card"
        assert page.get_by_role("button", name="Scan card").is_visible()  # camera stopped
        shoot(page, "merchant-card-scanned")
        page.get_by_role("button", name="Check", exact=True).click()
        page.get_by_role("heading", name="What may be redeemed here").wait_for()
        assert page.get_by_label("Beneficiary id").input_value() == shop.neighbour_id


def test_the_citizen_shows_their_card_full_screen(browser: Browser, shop: Shop) -> None:
    """On a phone, "My card" shows the QR code large; "Show full screen" puts the code alone
    on the screen, and a tap closes it."""
    _qr_text(shop, shop.person_id)
    with _page(browser, PHONE) as page:
        log_in(page, shop.server, "wen.citizen")
        menu(page, "My card")
        code = page.get_by_role("img", name="QR code of card")
        code.wait_for()
        box = code.bounding_box()
        assert box is not None and box["width"] >= 0.8 * PHONE["width"]
        problems = axe_problems(page)
        shoot(page, "citizen-my-card")
        assert problems == [], problems

        page.get_by_role("button", name="Show full screen").click()
        wait_until(page, "document.fullscreenElement !== null")
        assert page.evaluate("document.fullscreenElement.id") == "card-qr"
        shoot(page, "citizen-my-card-full-screen")
        page.locator("#card-qr").click()
        wait_until(page, "document.fullscreenElement === null")
        # Focus returns on the fullscreenchange event, which fires a moment after.
        wait_until(page, "document.activeElement.id === 'card-fullscreen'", timeout=5)
