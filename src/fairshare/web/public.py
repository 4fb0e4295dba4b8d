"""The public transparency page: what Fairshare holds and why, and what it never holds."""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.bootstrap import Services
from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import Entity
from fairshare.catalogue.redline import RedLineCategory
from fairshare.registry import statistics
from fairshare.reports.model import PublicProgrammeCoverage
from fairshare.web.rendering import render
from fairshare.web.routing import Visit, page

router = APIRouter()


def public_coverage(services: Services) -> list[PublicProgrammeCoverage]:
    """The coverage statistics of the public page, recomputed at most every
    `public_statistics_seconds`: the page needs no login, so it must not cost a full
    aggregation per visit."""
    now = time.monotonic()
    kept = services.memo.get("public_coverage")
    if kept is not None and now - kept[0] < services.settings.public_statistics_seconds:
        return kept[1]  # type: ignore[no-any-return]
    coverage = services.reports.public_coverage()
    services.memo["public_coverage"] = (now, coverage)
    return coverage


@page(router, "GET", "/transparency")
def transparency(visit: Visit) -> Response:
    """The full field catalogue with purposes, people per region and each programme's
    coverage (small cells withheld), and the categories Fairshare refuses to collect."""
    fields = catalogue_services.list_fields(visit.services.uow())
    return render(
        visit,
        "public/transparency.html",
        person_fields=[f for f in fields if f.entity is Entity.PERSON],
        household_fields=[f for f in fields if f.entity is Entity.HOUSEHOLD],
        regions=statistics.people_per_region(visit.services.uow()),
        coverage=public_coverage(visit.services),
        small_cell=statistics.SMALL_CELL,
        never_collected=[category.label for category in RedLineCategory],
    )
