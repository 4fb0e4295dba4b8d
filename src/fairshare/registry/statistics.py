"""Aggregate statistics of the registry for the public transparency page.

Counts only, never a person; any count under SMALL_CELL is withheld, because a small count in
a small place can point at a household.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from fairshare.db import UnitOfWork
from fairshare.registry.orm import households, people

SMALL_CELL = 10


@dataclass(frozen=True)
class RegionCount:
    region: str
    people: int | None  # None: fewer than SMALL_CELL, withheld

    @property
    def shown(self) -> str:
        return f"<{SMALL_CELL}" if self.people is None else str(self.people)


def people_per_region(uow: UnitOfWork) -> list[RegionCount]:
    """People registered in each region, by region name; counts under 10 are withheld.

    No grand total is given: with one withheld cell, total minus the others would reveal it.
    """
    with uow:
        rows = uow.connection.execute(
            select(households.c.region, func.count(people.c.id))
            .join(people, people.c.household_id == households.c.id)
            .group_by(households.c.region)
            .order_by(households.c.region)
        ).all()
    return [
        RegionCount(str(region), int(count) if count >= SMALL_CELL else None)
        for region, count in rows
    ]
