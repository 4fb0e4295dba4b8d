"""Transfers: idempotent, two-phase, linked, immutable; flags hold on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fairshare.audit.model import utc_now
from fairshare.bootstrap import Services
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor
from fairshare.ledger import store
from fairshare.ledger.model import (
    IdempotencyKeyReused,
    InsufficientBalance,
    LimitExceeded,
    PendingNotOpen,
    PendingState,
    TransferInFlight,
    TransferRequest,
    UnknownAccount,
)
from fairshare.ledger.services import Ledger
from tests.integration.ledger.conftest import World

pytestmark = pytest.mark.postgres


def _accounts(ledger: Ledger, disburser: Actor) -> dict[str, str]:
    return {a.code: a.id for a in ledger.accounts(disburser)}


def test_a_hold_reserves_then_posts_part_and_releases_the_rest(
    world: World, ledger: Ledger, disburser: Actor
) -> None:
    ids = _accounts(ledger, disburser)
    pension, fuel = ids["funding:old_age_pension:local_currency"], ids["treasury:local_currency"]
    hold = ledger.transfer(
        disburser, TransferRequest("hold-0000001", pension, fuel, 400_000, pending=True)
    )
    funding = ledger.account(disburser, pension)
    assert (funding.balance, funding.available, funding.debits_pending) == (
        1_000_000,
        600_000,
        400_000,
    )
    with pytest.raises(InsufficientBalance):
        ledger.transfer(disburser, TransferRequest("over-hold-01", pension, fuel, 600_001))
    posted = ledger.post_pending(disburser, hold.id, "post-hold-001", amount=100_000)
    assert posted.pending_id == hold.id and posted.amount == 100_000
    funding = ledger.account(disburser, pension)
    assert (funding.balance, funding.available, funding.debits_pending) == (900_000, 900_000, 0)
    assert ledger.hold_state(hold.id) is PendingState.POSTED
    with pytest.raises(PendingNotOpen):
        ledger.void_pending(disburser, hold.id, "void-hold-001")
    assert ledger.trial_balance(disburser).balanced


def test_holds_time_out_and_are_released(world: World, ledger: Ledger, disburser: Actor) -> None:
    ids = _accounts(ledger, disburser)
    pension = ids["funding:old_age_pension:local_currency"]
    treasury = ids["treasury:local_currency"]
    hold = ledger.transfer(
        disburser,
        TransferRequest("hold-0000002", pension, treasury, 1000, pending=True, timeout_seconds=60),
    )
    assert ledger.expire_holds(disburser, now=utc_now()) == 0
    later = utc_now() + timedelta(seconds=61)
    assert ledger.expire_holds(disburser, now=later) == 1
    assert ledger.expire_holds(disburser, now=later) == 0
    assert ledger.hold_state(hold.id) is PendingState.VOIDED
    assert ledger.account(disburser, pension).available == 1_000_000


def test_linked_transfers_succeed_or_fail_together(
    world: World, ledger: Ledger, disburser: Actor
) -> None:
    ids = _accounts(ledger, disburser)
    pension = ids["funding:old_age_pension:local_currency"]
    treasury = ids["treasury:local_currency"]
    fuel = ids["funding:subsidised_fuel:fuel"]
    with pytest.raises(InvalidInput, match="different assets"):
        ledger.transfer_linked(
            disburser,
            [
                TransferRequest("linked-00001", pension, treasury, 10),
                TransferRequest("linked-00002", pension, fuel, 10),
            ],
        )
    assert ledger.account(disburser, pension).balance == 1_000_000
    group = ledger.transfer_linked(
        disburser,
        [
            TransferRequest("linked-00003", pension, treasury, 10),
            TransferRequest("linked-00004", treasury, pension, 4),
        ],
    )
    assert group[0].link_id == group[1].link_id is not None
    assert (int(group[0].flags), int(group[1].flags)) == (8, 0)
    assert ledger.account(disburser, pension).balance == 999_994


@pytest.mark.parametrize(
    ("debit", "credit", "amount", "error", "match"),
    [
        (
            "funding:old_age_pension:local_currency",
            "treasury:local_currency",
            0,
            InvalidInput,
            "zero",
        ),
        (
            "funding:old_age_pension:local_currency",
            "treasury:local_currency",
            -1,
            InvalidInput,
            "zero",
        ),
        (
            "funding:old_age_pension:local_currency",
            "treasury:local_currency",
            2**63,
            InvalidInput,
            "largest",
        ),
        (
            "funding:old_age_pension:local_currency",
            "nowhere",
            1,
            UnknownAccount,
            "no ledger account",
        ),
        (
            "funding:old_age_pension:local_currency",
            "treasury:fuel",
            1,
            InvalidInput,
            "different assets",
        ),
        (
            "funding:old_age_pension:local_currency",
            "funding:old_age_pension:local_currency",
            1,
            InvalidInput,
            "two different",
        ),
        (
            "funding:old_age_pension:local_currency",
            "treasury:local_currency",
            1_000_001,
            InsufficientBalance,
            "available",
        ),
        # The treasury can only be debited more than credited: crediting it from nowhere fails.
        (
            "treasury:local_currency",
            "funding:old_age_pension:local_currency",
            2**63 - 1,
            LimitExceeded,
            "beyond",
        ),
    ],
)
def test_bad_transfers_get_clear_errors_and_move_nothing(
    world: World,
    ledger: Ledger,
    disburser: Actor,
    debit: str,
    credit: str,
    amount: int,
    error: type[Exception],
    match: str,
) -> None:
    ids = _accounts(ledger, disburser)
    before = ledger.trial_balance(disburser)
    with pytest.raises(error, match=match):
        ledger.transfer(
            disburser,
            TransferRequest("bad-0000001", ids.get(debit, debit), ids.get(credit, credit), amount),
        )
    assert ledger.trial_balance(disburser) == before


def test_replays_return_the_first_result_and_changed_bodies_are_refused(
    world: World, ledger: Ledger, disburser: Actor
) -> None:
    ids = _accounts(ledger, disburser)
    pension, treasury = (
        ids["funding:old_age_pension:local_currency"],
        ids["treasury:local_currency"],
    )
    first = ledger.transfer(disburser, TransferRequest("replay-00001", pension, treasury, 5))
    again = ledger.transfer(disburser, TransferRequest("replay-00001", pension, treasury, 5))
    assert again.id == first.id and again.replayed
    with pytest.raises(IdempotencyKeyReused):
        ledger.transfer(disburser, TransferRequest("replay-00001", pension, treasury, 6))
    assert ledger.account(disburser, pension).balance == 1_000_000 - 5


def test_a_duplicate_in_flight_is_refused_with_409(
    services: Services, world: World, disburser: Actor
) -> None:
    with (
        services.uow() as uow,
        store.claim(uow.connection, ["inflight-0001"]),
        pytest.raises(TransferInFlight) as refused,
        services.uow() as other,
        store.claim(other.connection, ["inflight-0001"]),
    ):
        pass
    assert refused.value.status == 409


def test_transfers_cannot_be_changed_or_deleted_in_the_database(
    services: Services, world: World
) -> None:
    for statement in ("UPDATE ledger_transfers SET amount = 1", "DELETE FROM ledger_transfers"):
        with services.uow() as uow, pytest.raises(DBAPIError, match="immutable"):
            uow.connection.execute(text(statement))


def test_the_database_refuses_an_overdraft_written_by_hand(
    services: Services, world: World
) -> None:
    with services.uow() as uow, pytest.raises(DBAPIError):
        uow.connection.execute(
            text(
                "UPDATE ledger_accounts SET debits_posted = credits_posted + 1 "
                "WHERE kind = 'funding'"
            )
        )
