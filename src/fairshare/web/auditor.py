"""Auditor pages: search the access log, verify its hash chain, and reconcile the ledger.

Searches are POST forms: a subject id or a username in a URL would be kept in server and
browser histories. Each search is itself written to the log by the audit service.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from fastapi import APIRouter
from starlette.responses import Response

from fairshare.assets import Asset, format_amount
from fairshare.audit import review
from fairshare.audit.model import Outcome, Tag
from fairshare.errors import FairshareError
from fairshare.ledger.model import AccountKind, TransferKind, parse_period
from fairshare.web.forms import FormErrors, FormField
from fairshare.web.i18n import N_
from fairshare.web.labels import ACTION_LABELS
from fairshare.web.merchant import ASSET_LABELS
from fairshare.web.rendering import render
from fairshare.web.routing import Visit, page

router = APIRouter()
PAGE_SIZE = 50
MAX_PAGE = 10_000


def _search_fields(visit: Visit, errors: FormErrors) -> list[FormField]:
    translator = visit.translator
    actions = [
        (tag.value, f"{translator.gettext(ACTION_LABELS.get(tag, tag))} ({tag.value})")
        for tag in Tag
    ]
    outcomes = [
        (Outcome.ALLOWED.value, visit._("allowed")),
        (Outcome.DENIED.value, visit._("refused")),
    ]
    specs: tuple[tuple[str, str, str, list[tuple[str, str]], str], ...] = (
        ("subject_id", visit._("Subject id"), "text", [], visit._("A person's or household's id")),
        ("actor", visit._("Who (username)"), "text", [], ""),
        ("action", visit._("Action"), "select", actions, ""),
        ("outcome", visit._("Outcome"), "select", outcomes, ""),
        ("since", visit._("From (date, UTC)"), "date", [], ""),
        ("until", visit._("To (date, UTC, included)"), "date", [], ""),
    )
    return [
        FormField(
            name,
            label,
            kind=kind,
            choices=choices,
            hint=hint,
            value=visit.field(name, 120),
            error=errors.by_name.get(name, ""),
            max_length=120 if kind == "text" else None,
        )
        for name, label, kind, choices, hint in specs
    ]


@page(router, "GET", "/auditor/log")
def log_form(visit: Visit) -> Response:
    return render(
        visit,
        "auditor/log.html",
        fields=_search_fields(visit, FormErrors()),
        errors=FormErrors(),
        entries=None,
        page_number=1,
        has_more=False,
    )


def _day(visit: Visit, name: str, errors: FormErrors, label: str) -> date | None:
    text = visit.field(name, 20)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.add(name, visit._("%(label)s: use the form YYYY-MM-DD", label=label))
        return None


@page(router, "POST", "/auditor/log")
def search_log(visit: Visit) -> Response:
    errors = FormErrors()
    since = _day(visit, "since", errors, visit._("From (date, UTC)"))
    until = _day(visit, "until", errors, visit._("To (date, UTC, included)"))
    if since and until and until < since:
        errors.add("until", visit._("To (date, UTC, included): must not be before the start date"))
    action = visit.field("action", 60) or None
    if action is not None and action not in {tag.value for tag in Tag}:
        errors.add("action", visit._("Action: choose one from the list"))
    outcome = visit.field("outcome", 10) or None
    if outcome is not None and outcome not in {o.value for o in Outcome}:
        errors.add("outcome", visit._("Outcome: choose one from the list"))
    try:
        page_number = max(1, min(int(visit.field("page", 6) or 1), MAX_PAGE))
    except ValueError:
        page_number = 1
    entries = None
    has_more = False
    if not errors:
        query = review.LogQuery(
            subject_id=visit.field("subject_id", 64).strip() or None,
            actor=visit.field("actor", 120).strip() or None,
            action=action,
            outcome=outcome,
            since=None if since is None else datetime.combine(since, time.min, UTC),
            until=None
            if until is None
            else datetime.combine(until + timedelta(days=1), time.min, UTC),
        )
        # One more than a page: whether there is an older page, without counting the log.
        found = review.search_log(
            visit.services.uow(),
            visit.actor,
            query,
            limit=PAGE_SIZE + 1,
            offset=(page_number - 1) * PAGE_SIZE,
        )
        has_more = len(found) > PAGE_SIZE
        entries = found[:PAGE_SIZE]
    return render(
        visit,
        "auditor/log.html",
        status=422 if errors else 200,
        fields=_search_fields(visit, errors),
        errors=errors,
        entries=entries,
        page_number=page_number,
        has_more=has_more,
        action_label=lambda code: visit.translator.gettext(ACTION_LABELS.get(str(code), str(code))),
    )


@page(router, "GET", "/auditor/verify")
def verify_form(visit: Visit) -> Response:
    return render(visit, "auditor/verify.html", result=None)


@page(router, "POST", "/auditor/verify")
def verify(visit: Visit) -> Response:
    """Walk the whole chain now and show whether it is intact, or where it was changed."""
    result = review.verify_log(visit.services.uow(), visit.actor)
    return render(visit, "auditor/verify.html", result=result)


ACCOUNT_KIND_LABELS: dict[str, str] = {
    AccountKind.TREASURY.value: N_("Treasury"),
    AccountKind.FUNDING.value: N_("Programme funding"),
    AccountKind.ENTITLEMENT.value: N_("Beneficiary entitlements"),
    AccountKind.SETTLEMENT.value: N_("Merchant settlement"),
    AccountKind.PAYOUT_CLEARING.value: N_("Payout clearing"),
}
TRANSFER_KIND_LABELS: dict[str, str] = {
    TransferKind.FUNDING.value: N_("Funding"),
    TransferKind.ENTITLEMENT.value: N_("Entitlements paid"),
    TransferKind.REDEMPTION.value: N_("Redemptions"),
    TransferKind.EXPIRY.value: N_("Expired quotas"),
    TransferKind.PAYOUT.value: N_("Payouts to merchants"),
    TransferKind.PAYOUT_RETURN.value: N_("Payouts returned"),
    TransferKind.CORRECTION.value: N_("Corrections"),
}


def _reconciliation_fields(
    visit: Visit, asset: str, period: str, errors: FormErrors
) -> list[FormField]:
    assets = [(code.value, visit._(ASSET_LABELS[code.value])) for code in Asset]
    return [
        FormField(
            "asset",
            visit._("Asset"),
            kind="select",
            choices=assets,
            value=asset,
            hint=visit._("Leave empty for every asset"),
            error=errors.by_name.get("asset", ""),
        ),
        FormField(
            "period",
            visit._("Month"),
            value=period,
            hint=visit._(
                "A month like 2026-11, for its opening and closing balances; leave "
                "empty for all time"
            ),
            error=errors.by_name.get("period", ""),
            max_length=7,
        ),
    ]


@page(router, "GET", "/auditor/reconciliation")
def reconciliation(visit: Visit) -> Response:
    """The journal of transfers against the account totals, and the trial balance, per asset.

    A GET form: an asset and a month are no personal data, and the address can be shared.
    Both reads are written to the access log by the ledger services.
    """
    query = visit.request.query_params
    asset = query.get("asset", "")[:30]
    period = query.get("period", "")[:20].strip()
    errors = FormErrors()
    if asset and asset not in {code.value for code in Asset}:
        errors.add("asset", visit._("Asset: choose one from the list"))
    if period:
        try:
            parse_period("monthly", period)
        except FairshareError:
            errors.add("period", visit._("Month: write it like 2026-11"))
    fields = _reconciliation_fields(visit, asset, period, errors)
    if errors:
        return render(
            visit,
            "auditor/reconciliation.html",
            status=422,
            fields=fields,
            errors=errors,
            report=None,
        )
    report = visit.services.ledger_reports.reconciliation(
        visit.actor, asset or None, period or None
    )
    trial = {
        line.asset: line
        for line in visit.services.ledger.trial_balance(visit.actor).assets
        if not asset or line.asset == asset
    }
    return render(
        visit,
        "auditor/reconciliation.html",
        fields=fields,
        errors=errors,
        report=report,
        trial=trial,
        balanced=report.balanced and all(line.balanced for line in trial.values()),
        amount=lambda code, minor: format_amount(code, minor, visit.language),
        asset_label=lambda code: visit._(ASSET_LABELS.get(str(code), str(code))),
        kind_label=lambda code: visit._(ACCOUNT_KIND_LABELS.get(str(code), str(code))),
        flow_label=lambda code: visit._(TRANSFER_KIND_LABELS.get(str(code), str(code))),
    )
