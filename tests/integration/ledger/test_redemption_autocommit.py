"""A redemption's common case on PostgreSQL: one read and one atomic write, no transaction
around them (decision 0028); every other case, and SQLite, takes the transactional path.

The services here run on an engine, as a server's do (the shared test connection holds a
transaction, in which the two-statement path cannot run).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from fairshare.audit import services as audit
from fairshare.audit.model import Tag
from fairshare.audit.orm import AccessLogRepository, access_log_outbox, outbox_row
from fairshare.bootstrap import Services
from fairshare.credentials.model import (
    Authorisation,
    AuthorisationMethod,
    AuthorisationRefused,
    UnknownVerification,
)
from fairshare.credentials.services import verify_in_person
from fairshare.db import UnitOfWork
from fairshare.driver import Sql
from fairshare.errors import InvalidInput, NotFound
from fairshare.identity.guard import access_request
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.ledger import autocommit_redemption, store
from fairshare.ledger.model import InsufficientBalance, TransferInFlight, TransferKind
from fairshare.ledger.orm import ledger_accounts, ledger_transfers
from fairshare.ledger.services import Ledger
from tests.conftest import BACKENDS
from tests.faults import ledger_world as world
from tests.faults.ledger_world import CHECKER, DISBURSER, MONEY, MONEY_AMOUNT
from tests.integration.ledger.paid_world import TODAY, checked_in, paid_world

pytestmark = pytest.mark.postgres


@dataclass
class Target:
    services: Services
    engine: Engine
    beneficiary: str
    authorisation: Authorisation
    dialect: str


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A database of its own, one cycle paid, one pensioner checked in at the till."""
    with paid_world(
        request.param, tmp_path, "autocommit", people=30, merchants=1, tills=2
    ) as services:
        person, authorisation = checked_in(services)
        yield Target(services, services.engine, person, authorisation, services.engine.dialect.name)


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which path each redemption took, in order ("alone" or "transaction")."""
    taken: list[str] = []
    alone, in_transaction = autocommit_redemption.post, Ledger._redeem_in_transaction

    def post(*args: Any, **kwargs: Any) -> None:
        taken.append("alone")
        alone(*args, **kwargs)

    def transactional(self: Ledger, request: Any) -> Any:
        taken.append("transaction")
        return in_transaction(self, request)

    monkeypatch.setattr(autocommit_redemption, "post", post)
    monkeypatch.setattr(Ledger, "_redeem_in_transaction", transactional)
    return taken


def _redeem(
    target: Target, key: str, amount: int, authorisation: Authorisation | None = None
) -> Any:
    return target.services.ledger.redeem(
        world.till(0),
        key=key,
        beneficiary_id=target.beneficiary,
        programme=MONEY,
        asset="local_currency",
        amount=amount,
        authorisation=authorisation or target.authorisation,
        today=TODAY,
    )


def _state(target: Target) -> dict[str, Any]:
    with target.engine.connect() as connection:
        return {
            "balances": connection.execute(
                select(ledger_accounts.c.code, ledger_accounts.c.debits_posted)
                .add_columns(ledger_accounts.c.credits_posted)
                .order_by(ledger_accounts.c.code)
            ).all(),
            "transfers": connection.execute(
                select(func.count()).select_from(ledger_transfers)
            ).scalar_one(),
            "outbox": connection.execute(
                select(func.count()).select_from(access_log_outbox)
            ).scalar_one(),
        }


def test_the_common_case_commits_in_one_write_and_reads_like_the_transactional_one(
    target: Target, paths: list[str]
) -> None:
    first = _redeem(target, "till-0-0001", 1000)  # the shop's first: opens its settlement
    second = _redeem(target, "till-0-0002", 2500)
    again = _redeem(target, "till-0-0002", 2500)  # a retry replays in a transaction
    expected = ["transaction", "alone", "transaction"]
    assert paths == (expected if target.dialect == "postgresql" else ["transaction"] * 3)
    assert (first.available_after, second.available_after) == (12_000, 9_500)
    assert again.replayed and [t.id for t in again.transfers] == [t.id for t in second.transfers]
    ledger = target.services.ledger
    [stored] = [
        t for t in ledger.transfers(DISBURSER, kind="redemption") if t.id == second.transfers[0].id
    ]
    assert (stored.amount, stored.debit_account_id, stored.beneficiary_id) == (
        2500,
        first.transfers[0].debit_account_id,
        target.beneficiary,
    )
    assert stored.reference == first.transfers[0].reference  # how it was authorised
    assert ledger.trial_balance(DISBURSER).balanced
    # Every redemption is in the access log, chained, whichever path wrote it.
    with target.services.uow() as uow:
        entries = AccessLogRepository(uow.connection).search(
            subject_ids=[target.beneficiary], action=Tag.LEDGER_ENTITLEMENT_REDEEM
        )
        uow.commit()
    assert [(e.actor, e.subject_id) for e in entries] == [("till-0-0", target.beneficiary)] * 3
    assert audit.verify(target.services.uow()).ok


def test_a_card_costs_no_more_statements_than_a_verification(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issuer key and the card row are read in the redemption's one read, beside the
    rest: a card redemption runs as many statements as a caseworker-verified one (two on
    PostgreSQL), and is recorded as authorised by that card."""
    desk = Actor("card-desk", Role.CASEWORKER, Purpose.CASE_MANAGEMENT)
    card = target.services.cards.issue(desk, target.beneficiary)
    by_card = Authorisation(AuthorisationMethod.CARD, card.qr_text)
    _redeem(target, "till-0-0001", 10)  # the shop's first opens its settlement account
    ran: list[str] = []
    run = Sql.run

    def counted(self: Sql, connection: Any, params: Any = None) -> Any:
        ran.append(self.text)
        return run(self, connection, params)

    monkeypatch.setattr(Sql, "run", counted)
    _redeem(target, "till-0-0002", 10)
    verified = list(ran)
    ran.clear()
    redemption = _redeem(target, "till-0-0003", 10, by_card)
    assert len(ran) == len(verified)
    if target.dialect == "postgresql":
        assert len(ran) == 2  # one read, one write
    [transfer] = redemption.transfers
    assert transfer.reference["authorisation"] == "card"
    assert card.card_id.replace("-", "") in transfer.reference["how"].replace("-", "")


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
def test_a_write_refused_at_the_last_moment_keeps_nothing(target: Target) -> None:
    """Between the read and the write another till can spend the balance: the write checks
    the locked accounts again and, refused, leaves no balance, journal row or log entry."""
    _redeem(target, "till-0-0001", 1000)
    before = _state(target)
    uow = UnitOfWork(target.engine)
    with uow, uow.each_statement_commits() as alone:
        assert alone
        connection = uow.connection
        facts = autocommit_redemption.read(
            connection,
            key="till-0-0002",
            username="till-0-0",
            asset="local_currency",
            beneficiary_id=target.beneficiary,
            programme=MONEY,
            authorisation=target.authorisation,
        )
        assert (
            facts.verification is not None
            and facts.verification[0] == target.authorisation.reference
        )
        assert facts.settlement is not None and not facts.key_used
        [quota] = facts.entitlements
        row = _row(quota, facts.settlement, "till-0-0002", MONEY_AMOUNT)  # more than is left
        log = [outbox_row(connection, _log_entry(target), row["created_at"])]
        with pytest.raises(InsufficientBalance) as refused:
            autocommit_redemption.post(connection, quota, facts.settlement, MONEY_AMOUNT, row, log)
    assert refused.value.details["available"] == MONEY_AMOUNT - 1000
    assert _state(target) == before


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
def test_a_key_committed_between_read_and_write_is_in_flight_and_keeps_nothing(
    target: Target,
) -> None:
    sent = _redeem(target, "till-0-0001", 1000).transfers[0]
    before = _state(target)
    uow = UnitOfWork(target.engine)
    with uow, uow.each_statement_commits():
        connection = uow.connection
        debit = store.get_account(connection, sent.debit_account_id)
        credit = store.get_account(connection, sent.credit_account_id)
        assert debit is not None and credit is not None
        row = _row(debit, credit, "till-0-0001", 5)
        log = [outbox_row(connection, _log_entry(target), row["created_at"])]
        with pytest.raises(TransferInFlight):
            autocommit_redemption.post(connection, debit, credit, 5, row, log)
    assert _state(target) == before


def test_statements_commit_alone_only_on_a_connection_of_its_own_with_nothing_begun(
    target: Target,
) -> None:
    postgres = target.dialect == "postgresql"
    uow = UnitOfWork(target.engine)
    with uow:
        raw: Any = uow.connection.connection.dbapi_connection
        with uow.each_statement_commits() as alone:
            assert alone is postgres
            uow.connection.execute(text("SELECT 1"))
        if postgres:
            assert raw.autocommit is False  # given back as it was lent
        uow.connection.execute(text("SELECT 1"))  # a transaction has begun now
        with uow.each_statement_commits() as alone:
            assert alone is False
    with target.engine.connect() as connection, connection.begin():
        nested = UnitOfWork(connection)
        with nested, nested.each_statement_commits() as alone:
            assert alone is False  # inside another's transaction


def _row(debit: Any, credit: Any, key: str, amount: int) -> dict[str, Any]:
    from fairshare.audit.model import utc_now

    return store.transfer_row(
        key=key,
        body_hash="0" * 64,
        debit=debit,
        credit=credit,
        amount=amount,
        kind=TransferKind.REDEMPTION,
        actor="till-0-0",
        now=utc_now(),
    )


def _log_entry(target: Target) -> Any:
    return access_request(
        world.till(0),
        Tag.LEDGER_ENTITLEMENT_REDEEM,
        "person",
        target.beneficiary,
        ("entitlement_balance",),
    )


@pytest.mark.parametrize(
    ("case", "error", "match"),
    [
        ("another person's verification", AuthorisationRefused, "another person"),
        ("no such verification", UnknownVerification, "verification"),
        ("more than the balance", InsufficientBalance, "holds 12000 available"),
        ("an asset the shop does not take", InvalidInput, "does not hand out"),
        ("a till of no merchant", PurposeNotAllowed, "does not act for any registered merchant"),
        ("another programme", NotFound, "no open entitlement"),
    ],
)
def test_refusals_say_what_they_say_on_the_transactional_path_and_keep_nothing(
    target: Target, paths: list[str], case: str, error: type[Exception], match: str
) -> None:
    _redeem(target, "till-0-0001", 1000)  # opens the settlement account
    before = _state(target)
    others = [p for p, _ in world.enrolled(target.services, MONEY) if p != target.beneficiary]
    request: dict[str, Any] = {
        "key": "till-0-0002",
        "beneficiary_id": target.beneficiary,
        "programme": MONEY,
        "asset": "local_currency",
        "amount": 500,
        "authorisation": target.authorisation,
        "today": TODAY,
    }
    till = world.till(0)
    if case == "another person's verification":
        checked = verify_in_person(
            target.services.uow(), CHECKER, others[0], "national_id_document", "seen the ID"
        )
        request["authorisation"] = Authorisation(AuthorisationMethod.CASEWORKER, checked.id)
    elif case == "no such verification":
        request["authorisation"] = Authorisation(AuthorisationMethod.CASEWORKER, "0" * 36)
    elif case == "more than the balance":
        request["amount"] = MONEY_AMOUNT
    elif case == "an asset the shop does not take":
        request["asset"] = "fuel"
    elif case == "a till of no merchant":
        till = Actor("till-of-nobody", Role.MERCHANT, Purpose.REDEMPTION)
    else:
        request["programme"] = "food_ration"
    with pytest.raises(error, match=match):
        target.services.ledger.redeem(till, **request)
    assert _state(target) == before
    # Refused on the two-statement path, without falling back; except the fuel case: the
    # shop has no settlement account in fuel, which only the transactional path opens.
    if target.dialect == "postgresql" and request["asset"] != "fuel":
        assert paths == ["transaction"]
