"""Caseworker pages for duplicate review: the queue, one pair side by side with a decision,
and the merges with their undo.

Only pair and merge ids reach a URL. Every page acts for the duplicate-review purpose (a
caseworker under another purpose is offered the switch) and calls the dedup services, which
check the purpose and write the access log: the queue logs the names it lists, a pair logs
the compared fields of both records, a decision or unmerge logs both people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.catalogue import services as catalogue_services
from fairshare.catalogue.model import Catalogue, Entity
from fairshare.dedup.model import NoRun
from fairshare.dedup.pairs import COMPARED_FIELDS, Agreement, PairView, QueuePage, ReviewReading
from fairshare.dedup.review import REVIEW, Review, UnknownPair
from fairshare.errors import Conflict, InvalidInput
from fairshare.web.forms import display_value, field_message
from fairshare.web.i18n import N_
from fairshare.web.rendering import redirect, render
from fairshare.web.routing import Visit, page

router = APIRouter()
PAGE_SIZE = 20
ID_LENGTH = 36
# Colour-independent: each level has a symbol and a word; the colour only repeats them.
AGREEMENT_LABELS: dict[str, tuple[str, str]] = {
    Agreement.AGREE: ("✓", N_("Agree")),
    Agreement.PARTLY: ("≈", N_("Partly agree")),
    Agreement.DISAGREE: ("✗", N_("Disagree")),
    Agreement.MISSING: ("?", N_("Missing")),
}
STATUS_LABELS: dict[str, str] = {
    "pending": N_("Waiting for review"),
    "accepted": N_("Accepted: one person"),
    "rejected": N_("Rejected: two people"),
    "automatic": N_("Linked automatically"),
}
ENTITIES = {"person": Entity.PERSON, "household": Entity.HOUSEHOLD}


def _reading(visit: Visit) -> ReviewReading:
    return ReviewReading(visit.services.uow(), visit.services.cipher)


def _review(visit: Visit) -> Review:
    return Review(visit.services.uow(), visit.services.cipher)


def _page_number(visit: Visit) -> int:
    try:
        return max(1, min(int(visit.request.query_params.get("page", "1")[:6]), 100_000))
    except ValueError:
        return 1


# ---- the queue -----------------------------------------------------------------------------


@page(router, "GET", "/caseworker/duplicates")
def queue(visit: Visit) -> Response:
    """Pending pairs of the latest run, most likely matches first, a page at a time."""
    visit.require_purpose(REVIEW)
    number = _page_number(visit)
    result: QueuePage | None
    try:
        result = _reading(visit).queue(
            visit.actor, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
        )
    except NoRun:
        result = None
    decided = visit.request.query_params.get("decided", "")[:10]
    return render(
        visit,
        "caseworker/duplicates.html",
        result=result,
        number=number,
        pages=0 if result is None else max(1, -(-result.total // PAGE_SIZE)),
        decided=decided if decided in ("rejected",) else "",
        agreements=AGREEMENT_LABELS,
    )


# ---- one pair ------------------------------------------------------------------------------


@dataclass
class DecisionEntry:
    """The decision form as typed, kept when it is shown again with an error."""

    decision: str = ""
    survivor: str = ""
    reason: str = ""
    confirm: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    general: str = ""


def _pair_id(text: str) -> int:
    try:
        value = int(text[:18])
    except ValueError:
        raise UnknownPair(0) from None
    if value < 1:
        raise UnknownPair(value)
    return value


@dataclass(frozen=True)
class Row:
    label: str
    value_a: str
    value_b: str
    symbol: str
    agreement: str  # translated word, '' when the field is not scored on its own
    css: str
    level: str
    weight: str


def _rows(visit: Visit, catalogue: Catalogue, view: PairView) -> list[Row]:
    entities = {name: ENTITIES[entity] for name, entity, _comparison in COMPARED_FIELDS}
    rows = []
    for item in view.rows:
        definition = catalogue.get(entities[item.field], item.field)
        label = visit.translator.gettext(definition.label) if definition else item.field

        def shown(value: Any, definition: Any = definition) -> str:
            if definition is None:
                return "" if value is None else str(value)
            return display_value(definition, value, visit.translator)

        symbol, word, css = "", "", ""
        if item.agreement is not None:
            symbol, word = AGREEMENT_LABELS[item.agreement]
            word, css = visit.translator.gettext(word), item.agreement.value
        rows.append(
            Row(
                label,
                shown(item.value_a),
                shown(item.value_b),
                symbol,
                word,
                css,
                item.level or "",
                "" if item.match_weight is None else f"{item.match_weight:+.1f}",
            )
        )
    return rows


def _pair_page(
    visit: Visit, pair_id: int, entry: DecisionEntry | None = None, status: int = 200
) -> Response:
    view = _reading(visit).pair(visit.actor, pair_id)
    catalogue = Catalogue.of(catalogue_services.list_fields(visit.services.uow()))
    return render(
        visit,
        "caseworker/duplicates_pair.html",
        status,
        pair=view,
        rows=_rows(visit, catalogue, view),
        status_label=visit.translator.gettext(STATUS_LABELS.get(view.status.value, "")),
        entry=entry or DecisionEntry(),
        agreements=AGREEMENT_LABELS,
    )


@page(router, "GET", "/caseworker/duplicates/{pair_id}")
def pair(visit: Visit, pair_id: str) -> Response:
    """Both records' compared fields side by side, each with how the model compared them."""
    visit.require_purpose(REVIEW)
    return _pair_page(visit, _pair_id(pair_id))


@page(router, "POST", "/caseworker/duplicates/{pair_id}/decision")
def decide(visit: Visit, pair_id: str) -> Response:
    """Accept (merge into the chosen survivor, once confirmed) or reject, with a reason."""
    visit.require_purpose(REVIEW)
    number = _pair_id(pair_id)
    entry = DecisionEntry(
        visit.field("decision", 10),
        visit.field("survivor", ID_LENGTH),
        visit.field("reason", 600),
        visit.checked("confirm"),
    )
    if entry.decision not in ("accept", "reject"):
        entry.errors["decision"] = visit._(
            "Choose whether the two records are the same person or two people"
        )
    if entry.decision == "accept":
        if not entry.survivor:
            entry.errors["survivor"] = visit._("Choose the record to keep")
        if not entry.confirm:
            entry.errors["confirm"] = visit._(
                "Tick the box to confirm the merge: the other record joins the one you keep"
            )
    if len(entry.reason.strip()) < 3:
        entry.errors["reason"] = visit._("Reason: say why (at least 3 characters)")
    if entry.errors:
        return _pair_page(visit, number, entry, 422)
    try:
        result = _review(visit).decide(
            visit.actor,
            number,
            accept=entry.decision == "accept",
            reason=entry.reason,
            survivor_id=entry.survivor if entry.decision == "accept" else None,
        )
    except InvalidInput as error:
        for item in error.errors:
            name = str(item.get("field", ""))
            key = name if name in ("reason", "survivor") else "decision"
            label = visit._("Reason") if key == "reason" else visit._("Record to keep")
            entry.errors[key] = field_message(visit.translator, label, str(item.get("reason")))
        if not entry.errors:
            entry.general = error.message
        return _pair_page(visit, number, entry, 422)
    except Conflict as error:
        entry.general = error.message
        return _pair_page(visit, number, entry, 409)
    if result.merge is not None:
        return redirect(f"/caseworker/merges?merged={result.merge.id}")
    return redirect("/caseworker/duplicates?decided=rejected")


# ---- merges --------------------------------------------------------------------------------


def _merges_page(
    visit: Visit,
    reasons: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    general: str = "",
) -> Response:
    number = _page_number(visit)
    result = _reading(visit).merges(visit.actor, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    query = visit.request.query_params
    return render(
        visit,
        "caseworker/merges.html",
        status,
        result=result,
        number=number,
        pages=max(1, -(-result.total // PAGE_SIZE)),
        merged=query.get("merged", "")[:ID_LENGTH],
        unmerged=query.get("unmerged", "")[:ID_LENGTH],
        reasons=reasons or {},
        errors=errors or {},
        general=general,
    )


@page(router, "GET", "/caseworker/merges")
def merges(visit: Visit) -> Response:
    """Merges, newest first, each active one with a form to undo it."""
    visit.require_purpose(REVIEW)
    return _merges_page(visit)


@page(router, "POST", "/caseworker/merges/{merge_id}/unmerge")
def unmerge(visit: Visit, merge_id: str) -> Response:
    """Undo a merge, with a reason: both records are separate again, exactly as before."""
    visit.require_purpose(REVIEW)
    merge_id = merge_id[:ID_LENGTH]
    reason = visit.field("reason", 600)
    if len(reason.strip()) < 3:
        message = visit._("Reason: say why (at least 3 characters)")
        return _merges_page(visit, {merge_id: reason}, {merge_id: message}, 422)
    try:
        _review(visit).unmerge(visit.actor, merge_id, reason)
    except InvalidInput as error:
        reasons = [str(item.get("reason", "")) for item in error.errors] or [error.message]
        message = field_message(visit.translator, visit._("Reason"), reasons[0])
        return _merges_page(visit, {merge_id: reason}, {merge_id: message}, 422)
    except Conflict as error:
        # The merge changed meanwhile (undone, or merged on): its form may be gone.
        return _merges_page(visit, {merge_id: reason}, {}, 409, error.message)
    return redirect(f"/caseworker/merges?unmerged={merge_id}")
