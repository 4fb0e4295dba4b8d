"""The reports through the HTTP API, the web pages and `fairshare report`, on both databases;
and the HTML file checked without a browser: it parses, its charts are inside it, and no
person's name is in it."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fairshare.api.app import create_app
from fairshare.bootstrap import Services
from fairshare.cli import report as report_cli
from fairshare.cli.main import app
from fairshare.identity.model import Purpose, Role
from fairshare.reports.html import render_report
from fairshare.reports.services import Reports
from fairshare.web.public import public_coverage
from tests.conftest import actor
from tests.integration.api.conftest import (  # noqa: F401 - fixtures used by name
    Headers,
    UserFactory,
    _cheap_password_hashing,
    client,
    user,
)
from tests.integration.ledger.conftest import PERIOD, World
from tests.integration.web.conftest import (
    BASE_URL,
    make_user,  # noqa: F401
)
from tests.integration.web.conftest import log_in as web_log_in

pytestmark = pytest.mark.postgres
NAMES = ("Persona0", "Persona11", "Prueba", "Carlos", "Elena")


class Structure(HTMLParser):
    """Counts elements and checks that every opened element (but void ones) is closed."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr", "path", "use", "rect", "line"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Structure:
    parser = Structure()
    parser.feed(html)
    parser.close()
    return parser


def test_the_html_report_parses_embeds_its_charts_and_names_no_one(
    services: Services, larger: dict[str, list[str]], reports: Reports
) -> None:
    """Self-contained: inline SVG charts, no external resources, no person's name."""
    report = reports.coverage(actor(Role.AUDITOR, Purpose.AUDIT), PERIOD)
    html = render_report(report)
    parsed = parse(html)
    assert parsed.errors == [] and parsed.stack == []
    assert parsed.counts.get("svg", 0) == 8  # coverage and equity, four breakdowns
    assert not any(parsed.counts.get(tag) for tag in ("script", "img", "link", "iframe"))
    assert 'src="http' not in html and 'href="http' not in html  # nothing fetched from outside
    assert "only need facts" in html
    assert "flagged" in html
    for name in NAMES:
        assert name not in html


def test_api_coverage_for_an_auditor(
    client: TestClient,  # noqa: F811
    user: UserFactory,  # noqa: F811
    larger: dict[str, list[str]],
) -> None:
    """JSON with counts as shown, intervals and statuses; the HTML download is an attachment."""
    headers = user(Role.AUDITOR, "ana.auditor")
    answer = client.get("/api/v1/reports/coverage", headers=headers, params={"period": PERIOD})
    assert answer.status_code == 200, answer.text
    [pension] = answer.json()["programmes"]
    [june] = pension["periods"]
    assert june["totals"]["eligible"] == "42"
    region = next(e for e in june["equity"] if e["dimension"] == "region")
    sierra = next(g for g in region["gaps"] if g["group"] == "Sierra")
    assert sierra["status"] == "flagged" and sierra["gap_interval"][1] < 0
    html = client.get("/api/v1/reports/coverage.html", headers=headers)
    assert html.status_code == 200
    assert html.headers["content-disposition"].startswith("attachment")
    assert "<svg" in html.text
    chart = client.get(
        "/api/v1/reports/coverage/old_age_pension/charts/region",
        headers=headers,
        params={"kind": "equity", "format": "png"},
    )
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")


def test_api_refuses_disability_to_disbursement_and_persons_to_officers(
    client: TestClient,  # noqa: F811
    user: UserFactory,  # noqa: F811
    larger: dict[str, list[str]],
) -> None:
    officer = user(Role.PROGRAMME_OFFICER, "olga.treasurer", purpose="disbursement")
    answer = client.get("/api/v1/reports/coverage", headers=officer, params={"disability": "true"})
    assert answer.status_code == 403
    people = client.get("/api/v1/reports/exclusions/old_age_pension", headers=officer)
    assert people.status_code == 403
    merchant = user(Role.MERCHANT, "shop-till")
    assert client.get("/api/v1/reports/coverage", headers=merchant).status_code == 403


def test_api_exclusions_for_a_caseworker(
    client: TestClient,  # noqa: F811
    user: UserFactory,  # noqa: F811
    larger: dict[str, list[str]],
) -> None:
    headers = user(Role.CASEWORKER, "carla.cases", purpose="case_management")
    answer = client.get(
        "/api/v1/reports/exclusions/old_age_pension",
        headers=headers,
        params={"signal": "not_paid", "period": PERIOD},
    )
    assert answer.status_code == 200, answer.text
    assert sorted(item["subject_id"] for item in answer.json()) == sorted(larger["sierra"])
    bad = client.get(
        "/api/v1/reports/exclusions/old_age_pension", headers=headers, params={"signal": "x"}
    )
    assert bad.status_code == 422


def test_public_coverage_needs_no_login_and_lists_no_one(
    client: TestClient,  # noqa: F811
    larger: dict[str, list[str]],
) -> None:
    answer = client.get("/api/v1/public/coverage")
    assert answer.status_code == 200
    [pension] = answer.json()
    assert pension["by_region"]["Costa"]["entitled"] == "30"
    for name in NAMES:
        assert name not in answer.text


def test_transparency_page_shows_coverage_without_names(
    services: Services, larger: dict[str, list[str]]
) -> None:
    """The public page carries each programme's coverage, small cells withheld."""
    with TestClient(create_app(services), base_url=BASE_URL) as web:
        page = web.get("/transparency")
    assert page.status_code == 200
    assert "Who the programmes reach" in page.text and "Old-age pension" in page.text
    parse(page.text)
    for name in NAMES:
        assert name not in page.text


def test_the_public_page_reuses_its_statistics_for_a_while(
    services: Services, larger: dict[str, list[str]]
) -> None:
    """Anyone may open the page: its aggregation runs once per `public_statistics_seconds`."""
    before = len(services.memo)
    first = public_coverage(services)
    kept = services.memo["public_coverage"]
    assert public_coverage(services) is first and services.memo["public_coverage"] is kept
    assert len(services.memo) == before + 1
    fresh = Services(
        services.settings.model_copy(update={"public_statistics_seconds": 0}), services.bind
    )
    again = public_coverage(fresh)
    assert again is not public_coverage(fresh) and again == first


def test_reports_page_for_an_auditor(
    services: Services,
    larger: dict[str, list[str]],
    make_user: UserFactory,  # noqa: F811
) -> None:
    """The page shows the flagged gap; its region chart is a PNG; the download is HTML."""
    make_user(Role.AUDITOR, "aida.auditor")
    with TestClient(create_app(services), base_url=BASE_URL) as web:
        web_log_in(web, "aida.auditor")
        page = web.get("/reports")
        assert page.status_code == 200, page.text
        assert "Flagged equity gaps" in page.text and "Sierra" in page.text
        image = web.get("/reports/charts/old_age_pension/region")
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        download = web.get("/reports/download", params={"period": PERIOD})
        assert download.status_code == 200 and "<svg" in download.text


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(report_cli, "services", lambda: services)
    monkeypatch.setenv("FAIRSHARE_ACTOR", "test-operator")
    return CliRunner()


def test_cli_writes_the_report_and_says_where(cli: CliRunner, paid: World, tmp_path: Path) -> None:
    result = cli.invoke(app, ["report", "--out", str(tmp_path), "--period", PERIOD])
    assert result.exit_code == 0, result.output
    path = tmp_path / f"fairshare-report-{PERIOD}.html"
    assert path.exists()
    assert str(path) in " ".join(result.output.split()) or path.name in result.output
    assert "<svg" in path.read_text(encoding="utf-8")


def test_cli_refuses_a_bad_period(cli: CliRunner, paid: World, tmp_path: Path) -> None:
    result = cli.invoke(app, ["report", "--out", str(tmp_path), "--period", "June"])
    assert result.exit_code == 2
    assert "2026-11" in result.output
