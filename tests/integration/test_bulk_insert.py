"""The bulk insert path stores exactly what an ordinary insert stores."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Connection, insert, select

from fairshare.db import bulk_insert
from fairshare.registry.orm import households, people


def test_bulk_and_ordinary_inserts_read_back_the_same(connection: Connection) -> None:
    """Dates, times, decimals, booleans and nulls survive bulk_insert as with insert()."""
    now = datetime(2026, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
    household = {
        "id": "h1",
        "region": "Costa",
        "address": "Calle 1",
        "extra": "{}",
        "owns_vehicle": True,
        "land_hectares": Decimal("1.25"),
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    connection.execute(insert(households), [household])

    def person(person_id: str) -> dict[str, object]:
        # Keys in an order unlike the table's, to prove columns are matched by name.
        return {
            "version": 1,
            "id": person_id,
            "household_id": "h1",
            "extra": "{}",
            "given_names": "Ana",
            "family_names": "Ruiz",
            "name_key": "ana ruiz",
            "date_of_birth": date(1990, 1, 2),
            "sex": "female",
            "phone": None,
            "relationship_to_head": "head",
            "monthly_income": Decimal("120.50"),
            "created_at": now,
            "updated_at": now,
        }

    connection.execute(insert(people), [person("ordinary")])
    bulk_insert(connection, people, [person("bulk")])
    rows = {r.id: r for r in connection.execute(select(people)) if r.id in ("ordinary", "bulk")}
    ordinary, bulk = rows["ordinary"]._asdict(), rows["bulk"]._asdict()
    ordinary.pop("id")
    bulk.pop("id")
    assert bulk == ordinary
    assert bulk["date_of_birth"] == date(1990, 1, 2)
    assert Decimal(str(bulk["monthly_income"])) == Decimal("120.50")
