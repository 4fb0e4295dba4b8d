"""The authorisation table: every route of the application and the roles that may use it.

Web pages are held to it by `fairshare.web.routing` before a page runs: someone not logged in
is sent to the login page, a logged-in role not listed gets 403. API routes are guarded by
the services (role and purpose, each refusal written to the access log); their rows say
which roles hold a purpose the operation accepts. `tests/integration/web/test_authorisation.py`
walks every route registered on the application with every role, and anonymously, and checks
each answer against this table, so a new route cannot be added without a row here.

A role being listed does not mean every request passes: services still check the purpose,
and a citizen reaches only their own record.
"""

from __future__ import annotations

from typing import Final, Literal

from fairshare.identity.model import Role

ANYONE: Final = "anyone"  # no login needed
Allowed = frozenset[Role] | Literal["anyone"]
Route = tuple[str, str]  # (method, path template)

R = Role
SIGNED_IN = frozenset(Role)
ADMINISTRATOR = frozenset({R.ADMINISTRATOR})
CASEWORKER = frozenset({R.CASEWORKER})
AUDITOR = frozenset({R.AUDITOR})
CITIZEN = frozenset({R.CITIZEN})
MERCHANT = frozenset({R.MERCHANT})
PROGRAMME_OFFICER = frozenset({R.PROGRAMME_OFFICER})
CASEWORKER_OR_CITIZEN = frozenset({R.CASEWORKER, R.CITIZEN})
REGISTERING = frozenset({R.CASEWORKER, R.ADMINISTRATOR})
# Who may simulate a programme (and so read its pages): the services accept their purposes.
SIMULATING = frozenset({R.PROGRAMME_OFFICER, R.CASEWORKER, R.AUDITOR})
# Coverage and equity reports: the pages are for officers and auditors; the API also answers
# caseworkers (counts, and the persons behind a signal).
REPORT_READERS = frozenset({R.PROGRAMME_OFFICER, R.AUDITOR})
REPORT_API_READERS = frozenset({R.PROGRAMME_OFFICER, R.AUDITOR, R.CASEWORKER})
# Entitlement cycles: officers who disburse and auditors (as GET /api/v1/ledger/cycles).
CYCLE_READERS = frozenset({R.PROGRAMME_OFFICER, R.AUDITOR})

WEB_ROUTES: dict[Route, Allowed] = {
    # auth.py
    ("GET", "/"): SIGNED_IN,
    ("GET", "/login"): ANYONE,
    ("POST", "/login"): ANYONE,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/purpose"): SIGNED_IN,
    ("POST", "/purpose"): SIGNED_IN,
    ("POST", "/language"): ANYONE,
    # public.py
    ("GET", "/transparency"): ANYONE,
    ("GET", "/static"): ANYONE,
    # caseworker.py
    ("GET", "/caseworker/households/new"): CASEWORKER,
    ("POST", "/caseworker/households/new"): CASEWORKER,
    ("POST", "/caseworker/households/check"): CASEWORKER,
    ("GET", "/caseworker/households/{household_id}"): CASEWORKER,
    ("GET", "/caseworker/search"): CASEWORKER,
    ("POST", "/caseworker/search"): CASEWORKER,
    ("GET", "/caseworker/people/{person_id}"): CASEWORKER,
    ("GET", "/caseworker/people/{person_id}/edit"): CASEWORKER,
    ("POST", "/caseworker/people/{person_id}/edit"): CASEWORKER,
    ("GET", "/caseworker/people/{person_id}/history"): CASEWORKER,
    ("GET", "/caseworker/corrections"): CASEWORKER,
    ("POST", "/caseworker/corrections/{correction_id}/decision"): CASEWORKER,
    # duplicates.py: the duplicate review queue (the service needs purpose duplicate_review)
    ("GET", "/caseworker/duplicates"): CASEWORKER,
    ("GET", "/caseworker/duplicates/{pair_id}"): CASEWORKER,
    ("POST", "/caseworker/duplicates/{pair_id}/decision"): CASEWORKER,
    ("GET", "/caseworker/merges"): CASEWORKER,
    ("POST", "/caseworker/merges/{merge_id}/unmerge"): CASEWORKER,
    # decisions.py: appeals are decided by caseworkers; citizens appeal their own decisions.
    ("GET", "/caseworker/appeals"): CASEWORKER,
    ("POST", "/caseworker/appeals/{appeal_id}/decision"): CASEWORKER,
    ("GET", "/caseworker/people/{person_id}/appeals"): CASEWORKER,
    ("GET", "/me/decisions"): CITIZEN,
    ("GET", "/me/decisions/{decision_id}/appeal"): CITIZEN,
    ("POST", "/me/decisions/{decision_id}/appeal"): CITIZEN,
    # citizen.py
    ("GET", "/me"): CITIZEN,
    ("GET", "/me/household"): CITIZEN,
    ("GET", "/me/entitlements"): CITIZEN,
    ("GET", "/me/access"): CITIZEN,
    ("GET", "/me/corrections"): CITIZEN,
    ("POST", "/me/corrections"): CITIZEN,
    ("GET", "/me/consent"): CITIZEN,
    ("POST", "/me/consent/withdraw"): CITIZEN,
    ("GET", "/me/export"): CITIZEN,
    # merchant.py
    ("GET", "/merchant"): MERCHANT,
    ("POST", "/merchant"): MERCHANT,
    ("POST", "/merchant/check"): MERCHANT,
    # cards.py: caseworkers issue, revoke and print a person's cards; the holder shows theirs.
    ("GET", "/caseworker/people/{person_id}/cards"): CASEWORKER,
    ("POST", "/caseworker/people/{person_id}/cards"): CASEWORKER,
    ("POST", "/caseworker/people/{person_id}/cards/revoke"): CASEWORKER,
    ("GET", "/caseworker/people/{person_id}/cards/current.pdf"): CASEWORKER,
    ("GET", "/me/card"): CITIZEN,
    ("POST", "/me/card/revoke"): CITIZEN,
    ("GET", "/me/card/current.pdf"): CITIZEN,
    # merchant_offline.py: the offline till; its service worker is a script, no data.
    ("GET", "/merchant/offline"): MERCHANT,
    ("GET", "/merchant/offline/sw.js"): ANYONE,
    ("POST", "/merchant/offline/devices"): MERCHANT,
    ("POST", "/merchant/offline/devices/{device_id}/allowances"): MERCHANT,
    ("GET", "/merchant/offline/revocations"): MERCHANT,
    ("POST", "/merchant/offline/devices/{device_id}/receipts"): MERCHANT,
    # auditor.py
    ("GET", "/auditor/log"): AUDITOR,
    ("POST", "/auditor/log"): AUDITOR,
    ("GET", "/auditor/verify"): AUDITOR,
    ("POST", "/auditor/verify"): AUDITOR,
    ("GET", "/auditor/reconciliation"): AUDITOR,
    # admin.py
    ("GET", "/admin/catalogue"): ADMINISTRATOR,
    ("POST", "/admin/catalogue"): ADMINISTRATOR,
    ("GET", "/admin/users"): ADMINISTRATOR,
    ("POST", "/admin/users"): ADMINISTRATOR,
    ("POST", "/admin/users/unlock"): ADMINISTRATOR,
    ("POST", "/admin/users/deactivate"): ADMINISTRATOR,
    ("POST", "/admin/users/activate"): ADMINISTRATOR,
    # programmes.py
    ("GET", "/programmes"): SIMULATING,
    ("GET", "/programmes/new"): PROGRAMME_OFFICER,
    ("POST", "/programmes/new"): PROGRAMME_OFFICER,
    ("POST", "/programmes/check"): PROGRAMME_OFFICER,
    ("GET", "/programmes/{code}"): SIMULATING,
    ("GET", "/programmes/{code}/edit"): PROGRAMME_OFFICER,
    ("POST", "/programmes/{code}/edit"): PROGRAMME_OFFICER,
    ("GET", "/programmes/{code}/simulate"): SIMULATING,
    ("POST", "/programmes/{code}/simulate"): SIMULATING,
    ("GET", "/programmes/{code}/charts/{breakdown}"): SIMULATING,
    ("GET", "/programmes/{code}/publish"): PROGRAMME_OFFICER,
    ("POST", "/programmes/{code}/publish"): PROGRAMME_OFFICER,
    ("GET", "/programmes/{code}/runs"): SIMULATING,
    ("POST", "/programmes/{code}/runs"): PROGRAMME_OFFICER,
    # cycle results: whoever may list cycles in the API (disbursement and audit purposes)
    ("GET", "/programmes/{code}/cycles"): CYCLE_READERS,
    ("GET", "/programmes/{code}/cycles/chart"): CYCLE_READERS,
    # reports.py
    ("GET", "/reports"): REPORT_READERS,
    ("GET", "/reports/download"): REPORT_READERS,
    ("GET", "/reports/charts/{code}/{breakdown}"): REPORT_READERS,
}

API_ROUTES: dict[Route, Allowed] = {
    # operations and the interactive documentation
    ("GET", "/healthz"): ANYONE,
    ("GET", "/openapi.json"): ANYONE,
    ("GET", "/docs"): ANYONE,
    ("GET", "/docs/oauth2-redirect"): ANYONE,
    ("GET", "/redoc"): ANYONE,
    # api/identity.py
    ("POST", "/api/v1/auth/token"): ANYONE,
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("GET", "/api/v1/auth/me"): SIGNED_IN,
    ("POST", "/api/v1/users"): ADMINISTRATOR,
    # api/catalogue.py
    ("GET", "/api/v1/catalogue/fields"): ANYONE,
    ("POST", "/api/v1/catalogue/fields"): ADMINISTRATOR,
    # api/registry.py
    ("POST", "/api/v1/households"): REGISTERING,
    ("GET", "/api/v1/households/{household_id}"): CASEWORKER_OR_CITIZEN,
    ("PATCH", "/api/v1/households/{household_id}"): CASEWORKER,
    ("POST", "/api/v1/households/{household_id}/members"): REGISTERING,
    ("POST", "/api/v1/people/duplicate-check"): REGISTERING,
    ("GET", "/api/v1/people"): CASEWORKER,
    ("GET", "/api/v1/people/{person_id}"): CASEWORKER_OR_CITIZEN,
    ("PATCH", "/api/v1/people/{person_id}"): CASEWORKER,
    ("GET", "/api/v1/people/{person_id}/history"): CASEWORKER_OR_CITIZEN,
    ("POST", "/api/v1/people/{person_id}/consents"): CASEWORKER_OR_CITIZEN,
    ("POST", "/api/v1/people/{person_id}/consents/{scope}/withdraw"): CASEWORKER_OR_CITIZEN,
    ("POST", "/api/v1/people/{person_id}/corrections"): CASEWORKER_OR_CITIZEN,
    ("GET", "/api/v1/corrections"): CASEWORKER_OR_CITIZEN,
    ("POST", "/api/v1/corrections/{correction_id}/decision"): CASEWORKER,
    ("GET", "/api/v1/people/{person_id}/export"): CASEWORKER_OR_CITIZEN,
    ("GET", "/api/v1/people/{person_id}/access-report"): frozenset(
        {R.CASEWORKER, R.AUDITOR, R.CITIZEN}
    ),
    ("GET", "/api/v1/me"): CITIZEN,
    ("GET", "/api/v1/me/household"): CITIZEN,
    ("GET", "/api/v1/me/export"): CITIZEN,
    ("GET", "/api/v1/me/access-report"): CITIZEN,
    ("POST", "/api/v1/imports"): REGISTERING,
    # api/audit.py
    ("GET", "/api/v1/audit/verify"): AUDITOR,
    ("GET", "/api/v1/audit/entries"): AUDITOR,
    # api/eligibility.py
    ("POST", "/api/v1/programmes"): PROGRAMME_OFFICER,
    ("GET", "/api/v1/programmes"): ANYONE,
    ("GET", "/api/v1/programmes/{code}"): ANYONE,
    ("PATCH", "/api/v1/programmes/{code}"): PROGRAMME_OFFICER,
    ("POST", "/api/v1/programmes/{code}/simulate"): frozenset(
        {R.PROGRAMME_OFFICER, R.CASEWORKER, R.AUDITOR}
    ),
    ("GET", "/api/v1/programmes/{code}/charts/{breakdown}"): frozenset(
        {R.PROGRAMME_OFFICER, R.CASEWORKER, R.AUDITOR}
    ),
    ("POST", "/api/v1/programmes/{code}/publish"): PROGRAMME_OFFICER,
    ("POST", "/api/v1/programmes/{code}/runs"): PROGRAMME_OFFICER,
    ("GET", "/api/v1/people/{person_id}/decisions"): CASEWORKER_OR_CITIZEN,
    ("GET", "/api/v1/me/decisions"): CITIZEN,
    ("POST", "/api/v1/decisions/{decision_id}/appeals"): CASEWORKER_OR_CITIZEN,
    # api/dedup.py: the duplicate review queue, decisions, merges (purpose duplicate_review)
    ("GET", "/api/v1/dedup/reviews"): CASEWORKER,
    ("GET", "/api/v1/dedup/reviews/{pair_id}"): CASEWORKER,
    ("POST", "/api/v1/dedup/reviews/{pair_id}/decision"): CASEWORKER,
    ("GET", "/api/v1/dedup/merges"): CASEWORKER,
    ("POST", "/api/v1/dedup/merges/{merge_id}/unmerge"): CASEWORKER,
    ("GET", "/api/v1/appeals"): CASEWORKER,
    ("POST", "/api/v1/appeals/{appeal_id}/decision"): CASEWORKER,
    ("GET", "/api/v1/people/{person_id}/appeals"): CASEWORKER_OR_CITIZEN,
    ("GET", "/api/v1/me/appeals"): CITIZEN,
    # api/ledger.py: disbursement (programme officers) moves money; audit and disbursement
    # read the ledger; merchants redeem; caseworkers verify identity in person.
    ("POST", "/api/v1/ledger/transfers"): PROGRAMME_OFFICER,
    ("POST", "/api/v1/ledger/transfers/{transfer_id}/post"): PROGRAMME_OFFICER,
    ("POST", "/api/v1/ledger/transfers/{transfer_id}/void"): PROGRAMME_OFFICER,
    ("GET", "/api/v1/ledger/transfers"): frozenset({R.PROGRAMME_OFFICER, R.AUDITOR}),
    ("POST", "/api/v1/ledger/holds/expire"): PROGRAMME_OFFICER,
    ("GET", "/api/v1/ledger/accounts"): frozenset({R.PROGRAMME_OFFICER, R.AUDITOR}),
    ("GET", "/api/v1/ledger/accounts/{account_id}"): frozenset({R.PROGRAMME_OFFICER, R.AUDITOR}),
    ("GET", "/api/v1/ledger/trial-balance"): frozenset({R.PROGRAMME_OFFICER, R.AUDITOR}),
    ("POST", "/api/v1/programmes/{code}/funding"): PROGRAMME_OFFICER,
    ("POST", "/api/v1/programmes/{code}/cycles"): PROGRAMME_OFFICER,
    ("POST", "/api/v1/programmes/{code}/cycles/{period}/expire"): PROGRAMME_OFFICER,
    ("GET", "/api/v1/ledger/cycles"): frozenset({R.PROGRAMME_OFFICER, R.AUDITOR}),
    ("POST", "/api/v1/ledger/merchants"): ADMINISTRATOR,
    ("GET", "/api/v1/ledger/merchants"): frozenset(
        {R.ADMINISTRATOR, R.PROGRAMME_OFFICER, R.AUDITOR}
    ),
    ("POST", "/api/v1/people/{person_id}/verifications"): CASEWORKER,
    ("POST", "/api/v1/ledger/redemptions"): frozenset({R.MERCHANT}),
    ("GET", "/api/v1/people/{person_id}/entitlements"): CASEWORKER_OR_CITIZEN,
    ("GET", "/api/v1/me/entitlements"): CITIZEN,
    ("POST", "/api/v1/ledger/payouts"): PROGRAMME_OFFICER,
    ("POST", "/api/v1/ledger/payouts/status"): PROGRAMME_OFFICER,
    ("GET", "/api/v1/ledger/reconciliation"): frozenset({R.PROGRAMME_OFFICER, R.AUDITOR}),
    # api/reports.py: aggregates for officers, auditors and caseworkers; persons behind a
    # signal for caseworkers only; public statistics for anyone.
    ("GET", "/api/v1/reports/coverage"): REPORT_API_READERS,
    ("GET", "/api/v1/reports/coverage.html"): REPORT_API_READERS,
    ("GET", "/api/v1/reports/coverage/{code}/charts/{breakdown}"): REPORT_API_READERS,
    ("GET", "/api/v1/reports/exclusions/{code}"): CASEWORKER,
    ("GET", "/api/v1/public/coverage"): ANYONE,
    # api/credentials.py: caseworkers issue and print cards; the holder lists, prints and
    # revokes their own; merchants and caseworkers verify; the trust list is public.
    ("POST", "/api/v1/people/{person_id}/cards"): CASEWORKER,
    ("GET", "/api/v1/people/{person_id}/cards"): CASEWORKER_OR_CITIZEN,
    ("GET", "/api/v1/people/{person_id}/cards/current.svg"): CASEWORKER_OR_CITIZEN,
    ("POST", "/api/v1/cards/{card_id}/revocation"): CASEWORKER_OR_CITIZEN,
    ("POST", "/api/v1/cards/verify"): frozenset({R.MERCHANT, R.CASEWORKER}),
    ("GET", "/api/v1/cards/trust-list"): ANYONE,
    ("GET", "/api/v1/cards/revocation-list"): frozenset(
        {R.MERCHANT, R.CASEWORKER, R.ADMINISTRATOR}
    ),
    ("POST", "/api/v1/offline/devices"): frozenset({R.MERCHANT}),
    ("GET", "/api/v1/offline/devices/{device_id}/allowances"): frozenset({R.MERCHANT}),
    ("POST", "/api/v1/offline/devices/{device_id}/receipts"): frozenset({R.MERCHANT}),
}

ROUTE_ACCESS: dict[Route, Allowed] = {**WEB_ROUTES, **API_ROUTES}


def allows(route: Route, role: Role | None) -> bool:
    """Whether this role (None: not logged in) may use the route; unknown routes: no one."""
    allowed = ROUTE_ACCESS.get(route)
    if allowed is None:
        return False
    if allowed == ANYONE:
        return True
    return role is not None and role in allowed
