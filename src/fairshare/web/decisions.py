"""Decisions and appeals: the citizen's decisions with their explanation and an appeal form,
and the caseworker's appeal queue with the person's decisions and appeals.

Every page calls the eligibility service with the session's actor; it checks the purpose,
hides decisions of health programmes outside health purposes (decision 0011) and writes the
access log, so the person sees each caseworker's review in "Who accessed my record".
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.eligibility import services as eligibility_services
from fairshare.eligibility.model import (
    AppealOutcome,
    AppealStatus,
    Explanation,
    QueuedAppeal,
    Target,
    UnknownAppeal,
    UnknownDecision,
)
from fairshare.errors import InvalidInput
from fairshare.identity.model import ROLE_PURPOSES, Role
from fairshare.registry.model import MAX_REASON_LENGTH, require_reason
from fairshare.web.forms import FormErrors, FormField, field_message
from fairshare.web.rendering import redirect, render
from fairshare.web.routing import Visit, page

router = APIRouter()
OWN = ROLE_PURPOSES[Role.CASEWORKER]
REVIEW = eligibility_services.REVIEW_APPEALS & OWN
PERSON_VIEW = eligibility_services.READ_OWN_APPEALS & eligibility_services.READ_DECISIONS & OWN
ID_LENGTH = 36
# Read past the limit, so an over-long reason is refused with its length, never cut short.
REASON_READ = 4 * MAX_REASON_LENGTH


def _own_id(visit: Visit) -> str:
    """The citizen's person id; the account was created for that person."""
    if visit.user is None or not visit.user.person_id:
        raise InvalidInput("this account is not linked to a person record")
    return visit.user.person_id


def _reason_error(visit: Visit, error: InvalidInput, label: str) -> str:
    reasons = [str(item.get("reason", "")) for item in error.errors] or [error.message]
    return field_message(visit.translator, label, reasons[0])


# ---- the citizen ---------------------------------------------------------------------------


@page(router, "GET", "/me/decisions")
def my_decisions(visit: Visit) -> Response:
    """My decisions in force, explained in the page's language, and my appeals."""
    eligibility = visit.services.eligibility
    person_id = _own_id(visit)
    explanations = eligibility.explain_decision(visit.actor, person_id, language=visit.language)
    appeals = eligibility.appeals_for(visit.actor, person_id)
    return render(
        visit,
        "citizen/decisions.html",
        explanations=explanations,
        appeals=appeals,
        under_appeal=_under_appeal(appeals),
        appealed="appealed" in visit.request.query_params,
    )


def _under_appeal(appeals: list[QueuedAppeal]) -> frozenset[str]:
    return frozenset(q.appeal.decision_id for q in appeals if q.appeal.status is AppealStatus.OPEN)


def _own_decision(visit: Visit, decision_id: str) -> Explanation:
    """One of my decisions in force; anything else is not found (as for someone else's)."""
    explanations = visit.services.eligibility.explain_decision(
        visit.actor, _own_id(visit), language=visit.language
    )
    for explanation in explanations:
        if explanation.decision.id == decision_id:
            return explanation
    raise UnknownDecision(decision_id)


def _appeal_field(visit: Visit, error: str = "") -> FormField:
    return FormField(
        "reason",
        visit._("Why the decision is wrong"),
        kind="textarea",
        value=visit.field("reason", REASON_READ),
        hint=visit._(
            "Say what the decision got wrong, for example income that has changed. "
            "At most 500 characters, on one line."
        ),
        error=error,
        required=True,
        max_length=MAX_REASON_LENGTH,
    )


def _appeal_page(
    visit: Visit, explanation: Explanation, error: str = "", status: int = 200
) -> Response:
    appeals = visit.services.eligibility.appeals_for(visit.actor, _own_id(visit))
    errors = FormErrors()
    if error:
        errors.add("reason", error)
    reason = _appeal_field(visit, error)
    return render(
        visit,
        "citizen/decisions_appeal.html",
        status,
        explanation=explanation,
        fields=[reason],
        errors=errors,
        already_open=explanation.decision.id in _under_appeal(appeals),
    )


@page(router, "GET", "/me/decisions/{decision_id}/appeal")
def appeal_form(visit: Visit, decision_id: str) -> Response:
    return _appeal_page(visit, _own_decision(visit, decision_id[:ID_LENGTH]))


@page(router, "POST", "/me/decisions/{decision_id}/appeal")
def file_appeal(visit: Visit, decision_id: str) -> Response:
    """Appeal one of my decisions with a reason; a caseworker decides it."""
    decision_id = decision_id[:ID_LENGTH]
    try:
        # The service refuses (and logs) a decision about someone else before anything else.
        visit.services.eligibility.file_appeal(
            visit.actor, decision_id, visit.field("reason", REASON_READ)
        )
    except InvalidInput as error:
        message = _reason_error(visit, error, visit._("Why the decision is wrong"))
        return _appeal_page(visit, _own_decision(visit, decision_id), message, 422)
    return redirect("/me/decisions?appealed=1")


# ---- the caseworker ------------------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    """An appeal in the queue with the decision it contests, as the caseworker sees it."""

    queued: QueuedAppeal
    explanation: Explanation | None


def _person_for(visit: Visit, subject_type: str, subject_id: str) -> str:
    """The person through whom the service finds a subject's decisions and appeals: the
    person, or one member of the household (a household read, logged like any other)."""
    if subject_type != Target.HOUSEHOLD.value:
        return subject_id
    _, members = visit.services.registry.get_household(visit.actor, subject_id)
    return members[0].id if members else ""


def _explained(visit: Visit, queued: list[QueuedAppeal]) -> list[Review]:
    """Each appeal with the explanation of its subject's decision in force for the programme."""
    eligibility = visit.services.eligibility
    found: dict[tuple[str, str], Explanation | None] = {}
    reviews = []
    for item in queued:
        appeal = item.appeal
        key = (appeal.subject_id, appeal.programme)
        if key not in found:
            person_id = _person_for(visit, appeal.subject_type, appeal.subject_id)
            explanations = (
                eligibility.explain_decision(
                    visit.actor, person_id, appeal.programme, language=visit.language
                )
                if person_id
                else []
            )
            found[key] = next(
                (e for e in explanations if e.decision.subject_id == appeal.subject_id), None
            )
        reviews.append(Review(item, found[key]))
    return reviews


def _queue_page(
    visit: Visit, reasons: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    queued = visit.services.eligibility.appeal_queue(visit.actor)
    return render(
        visit,
        "caseworker/appeals.html",
        status,
        reviews=_explained(visit, queued),
        reasons=reasons,
        errors=errors,
        sees_health=visit.actor.sees_health,
        decided=visit.request.query_params.get("decided", "")[:12],
    )


@page(router, "GET", "/caseworker/appeals")
def appeal_queue(visit: Visit) -> Response:
    """Open appeals, overdue first, each with the decision, its explanation and the reason."""
    visit.require_purpose(REVIEW)
    return _queue_page(visit, {}, {})


@page(router, "POST", "/caseworker/appeals/{appeal_id}/decision")
def decide_appeal(visit: Visit, appeal_id: str) -> Response:
    """Uphold, or overturn after a confirmation step; both need a reason for the person."""
    visit.require_purpose(REVIEW)
    appeal_id = appeal_id[:ID_LENGTH]
    outcome = visit.field("outcome", 10)
    reason = visit.field("reason", REASON_READ)
    if outcome not in {o.value for o in AppealOutcome}:
        message = visit._("Choose uphold or overturn")
        return _queue_page(visit, {appeal_id: reason}, {appeal_id: message}, 422)
    try:
        require_reason(reason)
    except InvalidInput as error:
        message = _reason_error(visit, error, visit._("Reason for your decision"))
        return _queue_page(visit, {appeal_id: reason}, {appeal_id: message}, 422)
    if outcome == AppealOutcome.OVERTURN and not visit.checked("confirm"):
        return _confirm_overturn(visit, appeal_id, reason)
    try:
        visit.services.eligibility.decide_appeal(visit.actor, appeal_id, outcome, reason)
    except InvalidInput as error:
        message = _reason_error(visit, error, visit._("Reason for your decision"))
        return _queue_page(visit, {appeal_id: reason}, {appeal_id: message}, 422)
    decided = "overturned" if outcome == AppealOutcome.OVERTURN else "upheld"
    return redirect(f"/caseworker/appeals?decided={decided}")


def _confirm_overturn(visit: Visit, appeal_id: str, reason: str) -> Response:
    """What the decision will become, to confirm. The appeal is looked up among its subject's
    (named by the form, checked here) so only that person's reads are logged, not the queue's."""
    subject_type = visit.field("subject_type", 10)
    person_id = _person_for(visit, subject_type, visit.field("subject_id", ID_LENGTH))
    appeals = visit.services.eligibility.appeals_for(visit.actor, person_id) if person_id else []
    item = next(
        (q for q in appeals if q.appeal.id == appeal_id and q.appeal.status is AppealStatus.OPEN),
        None,
    )
    if item is None:
        raise UnknownAppeal(appeal_id)
    [review] = _explained(visit, [item])
    return render(visit, "caseworker/appeals_confirm.html", review=review, reason=reason)


@page(router, "GET", "/caseworker/people/{person_id}/appeals")
def person_appeals(visit: Visit, person_id: str) -> Response:
    """A person's decisions in force and their appeals, for the person's case."""
    visit.require_purpose(PERSON_VIEW)
    person_id = person_id[:ID_LENGTH]
    eligibility = visit.services.eligibility
    explanations = eligibility.explain_decision(visit.actor, person_id, language=visit.language)
    appeals = eligibility.appeals_for(visit.actor, person_id)
    return render(
        visit,
        "caseworker/appeals_person.html",
        person_id=person_id,
        explanations=explanations,
        appeals=appeals,
        sees_health=visit.actor.sees_health,
        can_review=visit.purpose in REVIEW,
    )
