"""The ledger's test world (programmes run and funded, merchants registered) for card tests."""

from tests.integration.eligibility.conftest import population  # noqa: F401  (fixture)
from tests.integration.ledger.conftest import (  # noqa: F401  (fixtures)
    cycles,
    disburser,
    ledger,
    till,
    world,
)
