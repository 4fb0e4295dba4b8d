"""The public transparency page: what Fairshare holds and why, and what it never holds."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import Entity
from fairshare.catalogue.redline import RedLineCategory
from fairshare.registry import statistics
from fairshare.web.rendering import render
from fairshare.web.routing import Visit, page

router = APIRouter()


@page(router, "GET", "/transparency")
def transparency(visit: Visit) -> Response:
    """The full field catalogue with purposes, people per region (small cells withheld),
    and the categories Fairshare refuses to collect."""
    fields = catalogue_services.list_fields(visit.services.uow())
    return render(
        visit,
        "public/transparency.html",
        person_fields=[f for f in fields if f.entity is Entity.PERSON],
        household_fields=[f for f in fields if f.entity is Entity.HOUSEHOLD],
        regions=statistics.people_per_region(visit.services.uow()),
        small_cell=statistics.SMALL_CELL,
        never_collected=[category.label for category in RedLineCategory],
    )
