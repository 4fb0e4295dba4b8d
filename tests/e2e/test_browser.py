"""The pages in a real browser: Playwright's Python package driving Debian's Chromium against
the real server (Uvicorn in a subprocess, SQLite).

Skipped, with the reason, when /usr/bin/chromium or the playwright package is missing, unless
FAIRSHARE_REQUIRE_BROWSER=1 (as in CI), where that is a failure. Playwright's own browser
downloads are never used. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_server import PASSWORD, Server, _prepare, running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# One server and one browser for the module, on one xdist worker.
pytestmark = pytest.mark.xdist_group("browser")
# Distinctive names: finding one in the server's log would be a leak.
GIVEN_NAMES = "Wenceslaa Inés"
FAMILY_NAMES = "Quillahuaman Tupac"

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None  # type: ignore[assignment]


def _unavailable(reason: str) -> None:
    if os.environ.get("FAIRSHARE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser tests are required (FAIRSHARE_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


@contextmanager
def _server(tmp_path: Path) -> Iterator[Server]:
    """The real server, with Uvicorn's access log on, so the test can read what it logs."""
    database_url = f"sqlite:///{tmp_path / 'fairshare.sqlite3'}"
    _prepare(database_url)
    with running_server(database_url, tmp_path, log_level="info") as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    if sync_playwright is None:
        _unavailable("the playwright Python package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with _server(tmp_path_factory.mktemp("browser")) as running:
        yield running


@contextmanager
def _page(browser: Browser, viewport: dict[str, int] = DESKTOP) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, locale="en-US")  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def wait_until(page: Page, expression: str, arg: Any = None, timeout: float = 10.0) -> None:
    """Poll a JavaScript expression (or function of `arg`) until it is true.

    Playwright's wait_for_function builds its predicate with eval, which the pages' CSP (no
    'unsafe-eval') refuses on every poll after the first, so it fails whenever the condition
    is not already true. page.evaluate goes through the DevTools protocol, which the CSP
    does not govern."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {expression}")
        page.wait_for_timeout(50)


def log_in(page: Page, server: Server, username: str, purpose: str | None = None) -> None:
    page.goto(f"{server.base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if purpose is not None:
        page.get_by_label(purpose, exact=True).check()
        page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("h1")


def menu(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name=name).click()


def change_purpose(page: Page, purpose: str) -> None:
    page.get_by_role("link", name="Change purpose").click()
    page.get_by_label(purpose, exact=True).check()
    page.get_by_role("button", name="Continue").click()


def fill_registration(page: Page, given: str, family: str) -> None:
    page.get_by_label("Region").fill("Sierra Central")
    page.get_by_label("Address").fill("Calle Los Álamos 12")
    page.get_by_label("Given names").fill(given)
    page.get_by_label("Family names").fill(family)
    page.get_by_label("Date of birth").fill("1961-04-09")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Monthly income").fill("70.00")
    page.get_by_label("The person consents").check()
    page.get_by_label("How consent was given").fill("signed form")
    page.get_by_label("Disability").select_option("psychosocial")


def axe_problems(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    # Evaluated through the DevTools protocol, which the page's CSP does not govern; the page
    # itself still never runs an inline script.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
            }));
        }"""
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def test_caseworker_citizen_auditor_and_administrator(browser: Browser, server: Server) -> None:
    """Register, search and open a person; the citizen then sees that view; the chain verifies;
    a red-line field is refused naming its category; no name reaches the server's log."""
    with _page(browser) as page:
        log_in(page, server, "luis.caseworker", "Registration")
        menu(page, "Register a household")
        fill_registration(page, GIVEN_NAMES, FAMILY_NAMES)
        shoot(page, "caseworker-register-filled")
        page.get_by_role("button", name="Register household").click()
        page.get_by_text("The household was registered.").wait_for()
        shoot(page, "caseworker-household")

        change_purpose(page, "Health assessment")
        menu(page, "Search people")
        page.get_by_label("Name").fill("quillahuaman")
        page.get_by_role("button", name="Search").click()
        page.get_by_text("1 person found").wait_for()
        assert "quillahuaman" not in page.url.lower()
        shoot(page, "caseworker-search-results")
        page.get_by_role("link", name=f"{FAMILY_NAMES}, {GIVEN_NAMES}").click()
        page.get_by_role("heading", name=f"{GIVEN_NAMES} {FAMILY_NAMES}").wait_for()
        assert page.get_by_text("Psychosocial").is_visible()
        person_id = page.url.rstrip("/").split("/")[-1]
        shoot(page, "caseworker-person")

    with _page(browser) as page:
        log_in(page, server, "ada.admin", "Administration")
        menu(page, "Users")
        page.get_by_label("Username").fill("rosa.citizen")
        page.get_by_label("Role").select_option("citizen")
        page.get_by_label("First password").fill(PASSWORD)
        page.get_by_label("Person id (citizens only)").fill(person_id)
        page.get_by_role("button", name="Create the account").click()
        page.get_by_text("The account was created.").wait_for()

        menu(page, "Field catalogue")
        page.locator("#f-name").fill("partido_politico")
        page.get_by_label("Label").fill("Partido político")
        page.get_by_label("Why it is needed").fill("to know people better")
        page.get_by_role("button", name="Declare the field").click()
        refusal = page.get_by_role("alert")
        refusal.wait_for()
        assert "party membership" in refusal.inner_text()
        shoot(page, "admin-red-line-refused")

    with _page(browser, PHONE) as page:
        log_in(page, server, "rosa.citizen")
        menu(page, "Who accessed my record")
        rows = page.locator("tbody tr")
        caseworker_views = (
            rows.filter(has_text="luis.caseworker")
            .filter(has_text="Health assessment")
            .filter(has_text="read the record")
        )
        assert caseworker_views.count() >= 1
        shoot(page, "citizen-who-accessed-phone")
        menu(page, "My data")
        assert page.get_by_text("disability-related entitlements").is_visible()
        shoot(page, "citizen-my-data-phone")

    with _page(browser) as page:
        log_in(page, server, "olga.auditor")
        menu(page, "Verify the log")
        page.get_by_role("button", name="Verify now").click()
        page.get_by_role("heading", name="The log is intact").wait_for()
        shoot(page, "auditor-verified")

    server_log = server.log.read_text(encoding="utf-8", errors="replace").lower()
    assert "post /caseworker/search" in server_log  # the access log is on
    for name in ("quillahuaman", "wenceslaa"):
        assert name not in server_log


def _focus(page: Page) -> dict[str, str]:
    return page.evaluate(  # type: ignore[no-any-return]
        """() => {
            const e = document.activeElement;
            const style = getComputedStyle(e);
            return {id: e.id || "", tag: e.tagName, text: (e.textContent || "").trim(),
                    outline: style.outlineStyle, shadow: style.boxShadow};
        }"""
    )


def tab_to(page: Page, element_id: str, limit: int = 60) -> None:
    """Press Tab until the element has focus; each stop must show a visible focus style."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = _focus(page)
        assert focused["outline"] != "none" or focused["shadow"] != "none", focused
        if focused["id"] == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def test_registration_by_keyboard_alone(browser: Browser, server: Server) -> None:
    """Skip link, every field reached with Tab, values typed, choices picked, Enter submits."""
    with _page(browser) as page:
        log_in(page, server, "luis.caseworker", "Registration")
        page.goto(f"{server.base_url}/caseworker/households/new")
        page.keyboard.press("Tab")
        assert _focus(page)["text"] == "Skip to main content"
        page.keyboard.press("Enter")
        assert _focus(page)["id"] == "main"

        for element_id, keys in (
            ("f-household-region", "Costa Norte"),
            ("f-household-address", "Av. del Mar 3"),
            ("f-member-0-given-names", "Teodora"),
            ("f-member-0-family-names", "Huamani Keyboard"),
            ("f-member-0-date-of-birth", "03101950"),  # month, day, year in an en-US date field
            ("f-member-0-sex", "Female"),  # a select picks the option typed
        ):
            tab_to(page, element_id)
            page.keyboard.type(keys)
        assert page.input_value("#f-member-0-date-of-birth") == "1950-03-10"
        assert page.input_value("#f-member-0-sex") == "female"
        assert page.input_value("#f-member-0-relationship-to-head") == "head"
        tab_to(page, "f-member-0-health-consent")
        page.keyboard.press("Space")
        assert page.is_checked("#f-member-0-health-consent")
        tab_to(page, "f-member-0-chronic-illness")
        page.keyboard.type("Diabetes")
        for _ in range(10):
            page.keyboard.press("Tab")
            if _focus(page)["text"] == "Register household":
                break
        assert _focus(page)["text"] == "Register household"
        shoot(page, "keyboard-register-focus")
        page.keyboard.press("Enter")
        page.get_by_text("The household was registered.").wait_for()
        assert page.get_by_text("Huamani Keyboard, Teodora").is_visible()


# Two different people: the registration-time duplicate check stops the same one twice.
PEOPLE_FOR_AXE = {
    "marta.desktop": ("Marta", "1970-01-01", "Jr. Loreto 5"),
    "marta.phone": ("Renata", "1984-09-23", "Av. Grau 221"),
}


def _citizen_with_a_record(server: Server, username: str) -> str:
    """A household registered over the API and a citizen account for its head."""
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        token = http.post(
            "/api/v1/auth/token", data={"username": "luis.caseworker", "password": PASSWORD}
        ).json()["access_token"]
        admin = http.post(
            "/api/v1/auth/token", data={"username": "ada.admin", "password": PASSWORD}
        ).json()["access_token"]
        household = http.post(
            "/api/v1/households",
            headers={"Authorization": f"Bearer {token}", "X-Fairshare-Purpose": "registration"},
            json={
                "fields": {"region": "Selva", "address": PEOPLE_FOR_AXE[username][2]},
                "members": [
                    {
                        "fields": {
                            "given_names": PEOPLE_FOR_AXE[username][0],
                            "family_names": "Axe Check",
                            "date_of_birth": PEOPLE_FOR_AXE[username][1],
                            "sex": "female",
                            "relationship_to_head": "head",
                        }
                    }
                ],
            },
        )
        assert household.status_code == 201, household.text
        person_id: str = household.json()["members"][0]["id"]
        created = http.post(
            "/api/v1/users",
            headers={"Authorization": f"Bearer {admin}", "X-Fairshare-Purpose": "administration"},
            json={
                "username": username,
                "password": PASSWORD,
                "role": "citizen",
                "person_id": person_id,
            },
        )
        assert created.status_code == 201, created.text
        return person_id


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_main_pages_have_no_serious_accessibility_problems(
    browser: Browser, server: Server, viewport: dict[str, int]
) -> None:
    """axe-core finds no serious or critical violation on the login, registration, person,
    citizen, programme and public pages, at desktop and phone width, in English and Spanish."""
    width = "desktop" if viewport is DESKTOP else "phone"
    person_id = _citizen_with_a_record(server, f"marta.{width}")
    problems: dict[str, list[dict[str, Any]]] = {}
    with _page(browser, viewport) as page:
        page.goto(f"{server.base_url}/login")
        problems["login"] = axe_problems(page)
        shoot(page, f"login-{width}")
        page.goto(f"{server.base_url}/transparency")
        problems["transparency"] = axe_problems(page)
        shoot(page, f"transparency-{width}")
        log_in(page, server, "luis.caseworker", "Registration")
        page.goto(f"{server.base_url}/caseworker/households/new")
        problems["registration"] = axe_problems(page)
        page.get_by_role("button", name="Register household").click()  # empty: every error shown
        page.get_by_role("heading", name="There is a problem").wait_for()
        problems["registration-errors"] = axe_problems(page)
        shoot(page, f"register-errors-{width}")
        change_purpose(page, "Health assessment")
        page.goto(f"{server.base_url}/caseworker/people/{person_id}")
        problems["person"] = axe_problems(page)
        shoot(page, f"person-{width}")
    with _page(browser, viewport) as page:
        log_in(page, server, f"marta.{width}")
        for path in ("/me", "/me/access", "/me/corrections", "/me/consent"):
            page.goto(f"{server.base_url}{path}")
            problems[path] = axe_problems(page)
        shoot(page, f"citizen-consent-{width}")
        page.get_by_role("button", name="Español").click()
        page.goto(f"{server.base_url}/me/access")
        assert page.get_by_role("heading", name=re.compile("Quién accedió")).is_visible()
        problems["/me/access (es)"] = axe_problems(page)
        shoot(page, f"citizen-access-es-{width}")
    with _page(browser, viewport) as page:
        log_in(page, server, "pia.officer", "Programme design")
        page.goto(f"{server.base_url}/programmes/new")
        problems["programme-new"] = axe_problems(page)
        page.get_by_role("button", name="Save the draft").click()  # empty: every error shown
        page.get_by_role("heading", name="There is a problem").wait_for()
        problems["programme-new-errors"] = axe_problems(page)
        shoot(page, f"programme-errors-{width}")
        code = f"axe_{width}"
        page.locator("#f-code").fill(code)
        page.locator("#f-name").fill("Accessible grant")
        page.locator("#f-amount").fill("5.00")
        page.get_by_label("Field 1", exact=True).select_option("date_of_birth")
        page.get_by_label("Why the programme needs field 1").fill("age conditions use it")
        page.get_by_label("Eligibility rule").fill("age >= 18")
        page.get_by_role("button", name="Save the draft").click()
        page.get_by_text("The draft was saved.").wait_for()
        problems["programme"] = axe_problems(page)
        page.goto(f"{server.base_url}/programmes/{code}/simulate")
        page.get_by_role("button", name="Run the simulation").click()
        page.get_by_role("heading", name=re.compile("Results on")).wait_for()
        problems["programme-simulation"] = axe_problems(page)
        page.goto(f"{server.base_url}/programmes")
        problems["programmes"] = axe_problems(page)
    assert {page: found for page, found in problems.items() if found} == {}


# Distinct people (the registration-time duplicate check would stop near-identical ones).
SIMULATED_GIVEN = (
    "Aurelia",
    "Benedicto",
    "Casimira",
    "Dionisio",
    "Eulalia",
    "Fructuoso",
    "Genoveva",
    "Hermenegildo",
    "Idalina",
    "Jacinto",
    "Leocadia",
)
SIMULATED_FAMILY = (
    "Achahui",
    "Bustinza",
    "Ccama",
    "Dueñas",
    "Espinar",
    "Flores Yupanqui",
    "Gamarra",
    "Huillca",
    "Iparraguirre",
    "Jara",
    "Kana",
)


def _register_adults(server: Server, count: int, region: str) -> None:
    """Households of one adult each, registered over the API, for a simulation to count."""
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        token = http.post(
            "/api/v1/auth/token", data={"username": "luis.caseworker", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Fairshare-Purpose": "registration"}
        for number in range(count):
            born = date(1940 + 3 * number, 1 + number % 9, 10 + number % 9)
            household = http.post(
                "/api/v1/households",
                headers=headers,
                json={
                    "fields": {"region": region, "address": f"Calle Simulada {number}"},
                    "members": [
                        {
                            "fields": {
                                "given_names": SIMULATED_GIVEN[number],
                                "family_names": SIMULATED_FAMILY[number],
                                "date_of_birth": born.isoformat(),
                                "sex": "female",
                                "relationship_to_head": "head",
                            }
                        }
                    ],
                },
            )
            assert household.status_code == 201, household.text


def test_programme_officer_writes_simulates_publishes_and_runs(
    browser: Browser, server: Server
) -> None:
    """A rule error shows with its position as it is typed, and goes when fixed; the draft is
    simulated with tables and a chart, published after confirming, and run; the page breaks
    no rule of the CSP."""
    _register_adults(server, 11, "Altiplano")
    with _page(browser) as page:
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        log_in(page, server, "pia.officer", "Programme design")
        menu(page, "New programme")
        page.locator("#f-code").fill("adult_grant")
        page.locator("#f-name").fill("Adult grant")
        page.locator("#f-amount").fill("25.00")
        page.get_by_label("Field 1", exact=True).select_option("date_of_birth")
        page.get_by_label("Why the programme needs field 1").fill("age conditions use it")
        page.get_by_label("Eligibility rule").fill("age >= 18 &&\n  monthly_income < 100")
        check = page.locator("#f-rule-check")
        check.get_by_text("Line 2, column 3").wait_for()
        assert "monthly_income" in check.inner_text()
        shoot(page, "officer-rule-error-live")

        page.get_by_label("Eligibility rule").fill("age >= 18")
        check.get_by_text("The rule is valid.").wait_for()
        shoot(page, "officer-rule-fixed-live")
        page.get_by_role("button", name="Save the draft").click()
        page.get_by_text("The draft was saved.").wait_for()

        page.get_by_role("link", name="Simulate the draft").click()
        page.get_by_role("button", name="Run the simulation").click()
        page.get_by_role("heading", name=re.compile("Results on")).wait_for()
        region_table = page.locator("section.breakdown").filter(has_text="Eligible by region")
        assert region_table.get_by_role("row", name=re.compile("Altiplano")).is_visible()
        chart = region_table.locator("img.chart")
        chart.scroll_into_view_if_needed()
        wait_until(
            page, "image => image.complete && image.naturalWidth > 0", chart.element_handle()
        )
        shoot(page, "officer-simulation")

        page.get_by_role("link", name="Back to the programme").click()
        page.get_by_role("link", name="Publish the draft").click()
        page.get_by_label("I have checked the draft").check()
        page.get_by_role("button", name="Publish", exact=True).click()
        page.get_by_text("The draft was published as a new version.").wait_for()

        page.get_by_role("link", name="Runs").click()
        page.get_by_role("button", name="Run the published version now").click()
        notice = page.get_by_text(re.compile("The run finished"))
        notice.wait_for()
        assert "eligible of" in notice.inner_text()
        shoot(page, "officer-run")
        menu(page, "Programmes")
        assert page.get_by_role("row", name=re.compile("adult_grant")).is_visible()
    assert [m for m in console if "Content Security Policy" in m] == []
