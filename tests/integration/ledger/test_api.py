"""The ledger HTTP API, driven in-process on both databases: funding, cycles, in-person
verification, redemption, balances, holds, idempotency keys and refusals."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fairshare.bootstrap import Services
from fairshare.identity.model import Role
from fairshare.ledger import store
from tests.integration.api.conftest import (  # noqa: F401 - fixtures used by name
    Headers,
    UserFactory,
    _cheap_password_hashing,
    client,
    user,
)
from tests.integration.ledger.conftest import PERIOD, World
from tests.unit.ledger.status_reports import ReportedBlock, ReportedTransaction, build_pain002

pytestmark = pytest.mark.postgres

PROBLEM = "application/problem+json"
REPLAYED = "Idempotent-Replayed"


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def officer(user: UserFactory) -> Headers:  # noqa: F811 - the fixture imported above
    return user(Role.PROGRAMME_OFFICER, "olga.treasurer", purpose="disbursement")


@pytest.fixture
def till(user: UserFactory) -> Headers:  # noqa: F811
    return user(Role.MERCHANT, "shop-till")  # acts for tienda-1 (see conftest)


@pytest.fixture
def checker(user: UserFactory) -> Headers:  # noqa: F811
    return user(Role.CASEWORKER, "carla.checker", purpose="identity_verification")


@pytest.fixture
def auditor(user: UserFactory) -> Headers:  # noqa: F811
    return user(Role.AUDITOR, "ana.auditor")


def keyed(headers: Headers, key: str) -> Headers:
    return {**headers, "Idempotency-Key": key}


@pytest.fixture
def paid(client: TestClient, world: World, officer: Headers) -> World:  # noqa: F811
    """The pension's June cycle run through the API (p1 and p4 get 130.00 each)."""
    response = client.post(
        "/api/v1/programmes/old_age_pension/cycles", json={"period": PERIOD}, headers=officer
    )
    assert response.status_code == 200, response.text
    assert response.json()["posted"] == 2
    return world


def verification(client: TestClient, checker: Headers, person_id: str) -> str:  # noqa: F811
    response = client.post(
        f"/api/v1/people/{person_id}/verifications",
        json={"method": "national_id_document", "reason": "saw the ID card at the counter"},
        headers=checker,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def redemption(person_id: str, reference: str, **amount: Any) -> dict[str, Any]:
    return {
        "beneficiary_id": person_id,
        "programme": "old_age_pension",
        "asset": "local_currency",
        **(amount or {"amount": 5000}),
        "authorisation": {"method": "caseworker", "reference": reference},
    }


def test_fund_run_verify_redeem_and_read_the_balances(
    client: TestClient,  # noqa: F811
    user: UserFactory,  # noqa: F811
    world: World,
    officer: Headers,
    till: Headers,
    checker: Headers,
    auditor: Headers,
) -> None:
    """The whole card-less path over HTTP, and every asset still sums to zero."""
    funded = client.post(
        "/api/v1/programmes/old_age_pension/funding",
        json={"amount": 500_000, "reason": "supplementary budget"},
        headers=keyed(officer, "fund-pension-2025-06"),
    )
    assert funded.status_code == 201, funded.text
    assert funded.json()["amount_text"] == "5,000.00 local currency"
    cycle = client.post(
        "/api/v1/programmes/old_age_pension/cycles", json={"period": PERIOD}, headers=officer
    )
    assert cycle.status_code == 200, cycle.text
    assert (cycle.json()["posted"], cycle.json()["total_text"]) == (2, "260.00 local currency")
    again = client.post(
        "/api/v1/programmes/old_age_pension/cycles", json={"period": PERIOD}, headers=officer
    )
    assert (again.json()["posted"], again.json()["already_paid"]) == (0, 2)
    for in_kind in ("food_basket", "chronic_medicine"):
        ran = client.post(
            f"/api/v1/programmes/{in_kind}/cycles", json={"period": PERIOD}, headers=officer
        )
        assert ran.json()["posted"] >= 1, ran.text

    p1 = world.population.people["p1"]
    reference = verification(client, checker, p1)
    redeemed = client.post(
        "/api/v1/ledger/redemptions",
        json=redemption(p1, reference, amount_text="50.00"),
        headers=keyed(till, "till-api-0001"),
    )
    assert redeemed.status_code == 201, redeemed.text
    body = redeemed.json()
    assert (body["amount"], body["available_after"]) == (5000, 8000)
    assert body["available_text"] == "80.00 local currency"
    assert body["transfers"][0]["merchant_id"] == world.shop.id
    assert REPLAYED not in redeemed.headers

    citizen = user(Role.CITIZEN, "pablo.uno", person_id=p1)
    mine = client.get("/api/v1/me/entitlements", headers=citizen)
    assert mine.status_code == 200, mine.text
    [pension] = [e for e in mine.json() if e["programme"] == "old_age_pension"]
    assert (pension["balance"], pension["balance_text"]) == (8000, "80.00 local currency")
    assert pension["open"] and pension["expires_on"] is None
    [basket] = [e for e in mine.json() if e["subject_type"] == "household"]
    assert (basket["programme"], basket["period"], basket["open"]) == (
        "food_basket",
        PERIOD,
        False,  # June 2025 has ended
    )
    assert mine.json()[-1] == basket  # open entitlements first
    caseworker = user(Role.CASEWORKER, "cora.case", purpose="case_management")
    theirs = client.get(f"/api/v1/people/{p1}/entitlements", headers=caseworker)
    assert theirs.status_code == 200, theirs.text
    # A health programme's entitlement reveals the illness: not shown for case management.
    assert theirs.json() == [e for e in mine.json() if e["programme"] != "chronic_medicine"]
    assert any(e["programme"] == "chronic_medicine" for e in mine.json())

    settlements = client.get("/api/v1/ledger/accounts?kind=settlement", headers=auditor)
    assert [(a["owner_id"], a["balance"]) for a in settlements.json()] == [(world.shop.id, 5000)]
    redemptions = client.get("/api/v1/ledger/transfers?kind=redemption", headers=auditor)
    assert [t["amount"] for t in redemptions.json()] == [5000]
    trial = client.get("/api/v1/ledger/trial-balance", headers=auditor)
    assert trial.status_code == 200, trial.text
    assert trial.json()["balanced"] is True
    [money] = [line for line in trial.json()["assets"] if line["asset"] == "local_currency"]
    assert money["by_kind"]["settlement"] == 5000
    cycles = client.get("/api/v1/ledger/cycles", headers=auditor)
    assert sorted((c["programme"], c["status"]) for c in cycles.json()) == [
        ("chronic_medicine", "completed"),
        ("food_basket", "completed"),
        ("old_age_pension", "completed"),
    ]


def test_a_retry_replays_the_first_answer_and_a_changed_body_is_refused(
    client: TestClient,  # noqa: F811
    paid: World,
    till: Headers,
    checker: Headers,
) -> None:
    """Same key and body: the first body and status, marked replayed; another body: 422."""
    p1 = paid.population.people["p1"]
    request = redemption(p1, verification(client, checker, p1), amount=1000)
    headers = keyed(till, "till-api-0002")
    first = client.post("/api/v1/ledger/redemptions", json=request, headers=headers)
    again = client.post("/api/v1/ledger/redemptions", json=request, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers[REPLAYED] == "true"
    assert REPLAYED not in first.headers
    changed = client.post(
        "/api/v1/ledger/redemptions", json={**request, "amount": 2000}, headers=headers
    )
    refused = problem(changed, 422)
    assert refused["errors"] == [
        {"field": "idempotency_key", "reason": "already used with another body"}
    ]


def test_funding_replays_too(
    client: TestClient,  # noqa: F811
    world: World,
    officer: Headers,
) -> None:
    """A funding retry moves the budget once and answers as the first time did."""
    headers = keyed(officer, "fund-food-0001")
    bodies = [
        client.post("/api/v1/programmes/food_basket/funding", json={"amount": 10}, headers=headers)
        for _ in range(2)
    ]
    assert [b.status_code for b in bodies] == [201, 201]
    assert bodies[0].json() == bodies[1].json()
    assert bodies[1].headers[REPLAYED] == "true"
    funding = client.get(
        "/api/v1/ledger/accounts?kind=funding&programme=food_basket", headers=officer
    )
    assert funding.json()[0]["balance"] == 110  # 100 from the conftest, 10 once


def test_a_request_that_moves_value_needs_an_idempotency_key(
    client: TestClient,  # noqa: F811
    world: World,
    officer: Headers,
) -> None:
    """No key: 400 saying how to make one, and nothing moves."""
    refused = problem(
        client.post(
            "/api/v1/programmes/old_age_pension/funding", json={"amount": 100}, headers=officer
        ),
        400,
    )
    assert "Idempotency-Key" in refused["detail"] and "UUID" in refused["detail"]
    short = problem(
        client.post(
            "/api/v1/programmes/old_age_pension/funding",
            json={"amount": 100},
            headers=keyed(officer, "short"),
        ),
        422,
    )
    assert short["errors"][0]["field"] == "idempotency_key"
    transfers = client.get("/api/v1/ledger/transfers?kind=funding", headers=officer)
    assert len(transfers.json()) == 4  # the conftest's four budgets only


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (50.0, "valid integer"),
        ("5000", "valid integer"),
        (0, "greater than 0"),
        (-1, "greater than 0"),
        (2**63, "less than or equal"),
        (True, "valid integer"),
    ],
)
def test_amounts_are_whole_numbers_of_minor_units(
    client: TestClient,  # noqa: F811
    world: World,
    officer: Headers,
    amount: object,
    reason: str,
) -> None:
    """A float, text, zero, negative or 64-bit overflow is 422 naming the field."""
    refused = problem(
        client.post(
            "/api/v1/programmes/old_age_pension/funding",
            json={"amount": amount},
            headers=keyed(officer, "fund-bad-0001"),
        ),
        422,
    )
    [error] = refused["errors"]
    assert error["field"] == "amount" and reason in error["reason"]


def test_a_redemption_takes_one_amount_and_text_in_entry_units(
    client: TestClient,  # noqa: F811
    paid: World,
    till: Headers,
    checker: Headers,
) -> None:
    """amount_text with too many decimals, or both amounts, or neither: 422."""
    p1 = paid.population.people["p1"]
    reference = verification(client, checker, p1)
    headers = keyed(till, "till-api-0003")
    for amount, field in (
        ({"amount_text": "1.234"}, "amount_text"),
        ({"amount": 100, "amount_text": "1.00"}, ""),
        ({"amount": None}, ""),
    ):
        refused = problem(
            client.post(
                "/api/v1/ledger/redemptions",
                json=redemption(p1, reference, **amount),
                headers=headers,
            ),
            422,
        )
        assert refused["errors"][0]["field"] == field, refused


def test_insufficient_balance_shows_the_merchant_what_is_available(
    client: TestClient,  # noqa: F811
    paid: World,
    till: Headers,
    checker: Headers,
    auditor: Headers,
) -> None:
    """409 with the available amount, in minor units and as text; nothing moves."""
    p4 = paid.population.people["p4"]
    refused = problem(
        client.post(
            "/api/v1/ledger/redemptions",
            json=redemption(p4, verification(client, checker, p4), amount_text="130.01"),
            headers=keyed(till, "till-api-0004"),
        ),
        409,
    )
    assert (refused["available"], refused["available_text"]) == (13000, "130.00 local currency")
    assert refused["requested"] == 13001
    assert client.get("/api/v1/ledger/accounts?kind=settlement", headers=auditor).json() == []


def test_unknown_records_are_404(
    client: TestClient,  # noqa: F811
    world: World,
    officer: Headers,
) -> None:
    """An unknown account, hold or person is a 404 problem that says what to do."""
    missing = problem(client.get("/api/v1/ledger/accounts/no-such-account", headers=officer), 404)
    assert "fairshare ledger accounts" in missing["detail"]
    problem(
        client.post(
            "/api/v1/ledger/transfers/no-such-hold/void", headers=keyed(officer, "void-0000001")
        ),
        404,
    )
    problem(
        client.post(
            "/api/v1/ledger/transfers",
            json={
                "transfers": [
                    {"debit_account_id": "nope", "credit_account_id": "nope", "amount": 1}
                ]
            },
            headers=keyed(officer, "transfer-0000001"),
        ),
        404,
    )


def test_a_linked_hold_group_posts_and_voids(
    client: TestClient,  # noqa: F811
    world: World,
    officer: Headers,
) -> None:
    """Two holds in one linked group; one posted in part, the other voided; closed holds 409."""
    accounts = {
        a["code"]: a["id"] for a in client.get("/api/v1/ledger/accounts", headers=officer).json()
    }
    pension = accounts["funding:old_age_pension:local_currency"]
    treasury = accounts["treasury:local_currency"]
    hold = {"debit_account_id": pension, "credit_account_id": treasury, "pending": True}
    group = client.post(
        "/api/v1/ledger/transfers",
        json={"transfers": [{**hold, "amount": 1000}, {**hold, "amount": 2000}]},
        headers=keyed(officer, "holds-0000001"),
    )
    assert group.status_code == 201, group.text
    first, second = group.json()
    assert first["idempotency_key"] == "holds-0000001"
    assert second["idempotency_key"] == "holds-0000001/2"
    assert first["link_id"] == second["link_id"] and "linked" in first["flags"]
    posted = client.post(
        f"/api/v1/ledger/transfers/{first['id']}/post",
        json={"amount": 400},
        headers=keyed(officer, "post-0000001"),
    )
    assert posted.status_code == 201, posted.text
    assert (posted.json()["amount"], posted.json()["flags"]) == (400, ["post_pending"])
    voided = client.post(
        f"/api/v1/ledger/transfers/{second['id']}/void", headers=keyed(officer, "void-0000002")
    )
    assert voided.json()["pending_id"] == second["id"]
    closed = client.post(
        f"/api/v1/ledger/transfers/{second['id']}/void", headers=keyed(officer, "void-0000003")
    )
    problem(closed, 409)
    funding = client.get(f"/api/v1/ledger/accounts/{pension}", headers=officer).json()
    assert (funding["balance"], funding["available"]) == (1_000_000 - 400, 1_000_000 - 400)
    expired = client.post("/api/v1/ledger/holds/expire", headers=officer)
    assert expired.json() == {"expired": 0}


def test_merchants_are_registered_by_administrators(
    client: TestClient,  # noqa: F811
    user: UserFactory,  # noqa: F811
    world: World,
    officer: Headers,
) -> None:
    """An administrator registers a merchant; a bad IBAN is 422; officers list them."""
    admin = user(Role.ADMINISTRATOR, "adela.admin", purpose="administration")
    merchant = {
        "code": "farmacia-2",
        "name": "Farmacia Norte",
        "category": "pharmacy",
        "region": "Norte",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
        "usernames": ["norte-till"],
    }
    created = client.post("/api/v1/ledger/merchants", json=merchant, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["accepts"] == ["local_currency", "medicine_pack"]
    problem(client.post("/api/v1/ledger/merchants", json=merchant, headers=admin), 409)
    bad = problem(
        client.post(
            "/api/v1/ledger/merchants",
            json={**merchant, "code": "farmacia-3", "iban": "DE00000000000000000000"},
            headers=admin,
        ),
        422,
    )
    assert bad["errors"]
    listed = client.get("/api/v1/ledger/merchants", headers=officer).json()
    assert [m["code"] for m in listed] == ["farmacia-1", "farmacia-2", "gasolinera-1", "tienda-1"]


def test_quota_expiry_waits_for_the_end_of_its_period(
    client: TestClient,  # noqa: F811
    world: World,
    officer: Headers,
) -> None:
    """An ended period's food baskets go back to the programme; an unended one is 409."""
    ran = client.post(
        "/api/v1/programmes/food_basket/cycles", json={"period": PERIOD}, headers=officer
    )
    assert ran.json()["posted"] == 2, ran.text
    expired = client.post(f"/api/v1/programmes/food_basket/cycles/{PERIOD}/expire", headers=officer)
    assert expired.status_code == 200, expired.text
    assert (expired.json()["accounts"], expired.json()["total_text"]) == (2, "2 food baskets")
    problem(
        client.post("/api/v1/programmes/food_basket/cycles/2999-01/expire", headers=officer), 409
    )
    problem(
        client.post(
            "/api/v1/programmes/food_basket/cycles", json={"period": "2025-13"}, headers=officer
        ),
        422,
    )


def test_roles_without_the_purpose_are_refused(
    client: TestClient,  # noqa: F811
    user: UserFactory,  # noqa: F811
    paid: World,
    till: Headers,
    checker: Headers,
    auditor: Headers,
) -> None:
    """A citizen cannot fund, a merchant cannot read the ledger, an auditor cannot redeem,
    a citizen cannot read another person's entitlements: 403 each."""
    p1, p4 = paid.population.people["p1"], paid.population.people["p4"]
    citizen = user(Role.CITIZEN, "pablo.uno", person_id=p1)
    problem(
        client.post(
            "/api/v1/programmes/old_age_pension/funding",
            json={"amount": 1},
            headers=keyed(citizen, "citizen-0001"),
        ),
        403,
    )
    problem(client.get("/api/v1/ledger/trial-balance", headers=till), 403)
    problem(client.get("/api/v1/ledger/merchants", headers=till), 403)
    problem(client.get("/api/v1/ledger/cycles", headers=checker), 403)
    problem(
        client.post(
            "/api/v1/ledger/redemptions",
            json=redemption(p1, "whatever"),
            headers=keyed(auditor, "auditor-0001"),
        ),
        403,
    )
    problem(client.get(f"/api/v1/people/{p4}/entitlements", headers=citizen), 403)
    problem(
        client.post(
            f"/api/v1/people/{p1}/verifications",
            json={"method": "national_id_document", "reason": "seen the ID card"},
            headers=till,
        ),
        403,
    )
    unlinked = user(Role.MERCHANT, "loose-till")
    refused = problem(
        client.post(
            "/api/v1/ledger/redemptions",
            json=redemption(p1, verification(client, checker, p1)),
            headers=keyed(unlinked, "loose-0001"),
        ),
        403,
    )
    assert "does not act for any registered merchant" in refused["detail"]


def test_payout_file_status_report_and_reconciliation(
    client: TestClient,  # noqa: F811
    paid: World,
    officer: Headers,
    till: Headers,
    checker: Headers,
    auditor: Headers,
) -> None:
    """The pain.001 comes back as an XML attachment; the bank's pain.002 upload pays it; the
    reconciliation agrees with the totals; with nothing left to pay, 409."""
    p1 = paid.population.people["p1"]
    redeemed = client.post(
        "/api/v1/ledger/redemptions",
        json=redemption(p1, verification(client, checker, p1), amount=3000),
        headers=keyed(till, "till-api-0005"),
    )
    assert redeemed.status_code == 201, redeemed.text
    exported = client.post("/api/v1/ledger/payouts", json={}, headers=officer)
    assert exported.status_code == 201, exported.text
    assert exported.headers["content-type"].startswith("application/xml")
    filename = exported.headers["content-disposition"]
    assert filename.startswith('attachment; filename="pain001-') and filename.endswith('.xml"')
    assert b"<CtrlSum>30.00</CtrlSum>" in exported.content
    [payment] = re.findall(r"<EndToEndId>([^<]+)</EndToEndId>", exported.text)
    [message_id] = re.findall(r"<MsgId>([^<]+)</MsgId>", exported.text)
    problem(client.post("/api/v1/ledger/payouts", headers=officer), 409)

    report = build_pain002(
        message_id="BANK-STATUS-02",
        original_message_id=message_id,
        blocks=[
            ReportedBlock(f"{message_id}-1", transactions=(ReportedTransaction(payment, "ACSC"),))
        ],
    )
    upload = {"file": ("status.xml", report, "application/xml")}
    imported = client.post("/api/v1/ledger/payouts/status", files=upload, headers=officer)
    assert imported.status_code == 200, imported.text
    assert (imported.json()["paid"], imported.json()["already"]) == (1, 0)
    again = client.post("/api/v1/ledger/payouts/status", files=upload, headers=officer)
    assert (again.json()["paid"], again.json()["already"]) == (0, 1)
    hostile = client.post(
        "/api/v1/ledger/payouts/status",
        files={"file": ("x.xml", b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", "application/xml")},
        headers=officer,
    )
    problem(hostile, 422)

    reconciled = client.get(
        "/api/v1/ledger/reconciliation", params={"asset": "local_currency"}, headers=auditor
    )
    assert reconciled.status_code == 200, reconciled.text
    body = reconciled.json()
    assert body["balanced"] is True
    [money] = body["assets"]
    kinds = {line["kind"]: line for line in money["kinds"]}
    assert kinds["payout_clearing"]["totals_now"] == 3000
    assert all(line["matches"] for line in money["kinds"])
    problem(client.get("/api/v1/ledger/reconciliation?period=June", headers=auditor), 422)
    problem(client.get("/api/v1/ledger/reconciliation", headers=till), 403)


def test_a_duplicate_still_in_flight_gets_409(
    client: TestClient,  # noqa: F811
    services: Services,
    world: World,
    officer: Headers,
) -> None:
    """While a request with the key is being processed, a duplicate is told to wait (409)."""
    with store.claim(services.bind, ["fund-in-flight-01"]):  # type: ignore[arg-type]
        busy = problem(
            client.post(
                "/api/v1/programmes/old_age_pension/funding",
                json={"amount": 100},
                headers=keyed(officer, "fund-in-flight-01"),
            ),
            409,
        )
    assert "still being processed" in busy["detail"]
    done = client.post(
        "/api/v1/programmes/old_age_pension/funding",
        json={"amount": 100},
        headers=keyed(officer, "fund-in-flight-01"),
    )
    assert done.status_code == 201, done.text
