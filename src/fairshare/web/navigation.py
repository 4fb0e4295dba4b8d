"""The menu: each page a role can open, in the order people use them.

Later areas (eligibility, ledger, cards) add their pages here; an item shows only to the
roles the authorisation table lets open it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fairshare.identity.model import Role
from fairshare.web.access import allows
from fairshare.web.i18n import N_


@dataclass(frozen=True)
class MenuItem:
    path: str
    label: str


MENU: tuple[MenuItem, ...] = (
    MenuItem("/caseworker/households/new", N_("Register a household")),
    MenuItem("/caseworker/search", N_("Search people")),
    MenuItem("/caseworker/corrections", N_("Correction requests")),
    MenuItem("/caseworker/duplicates", N_("Duplicate review")),
    MenuItem("/caseworker/merges", N_("Merges")),
    MenuItem("/caseworker/appeals", N_("Appeals")),
    MenuItem("/me", N_("My data")),
    MenuItem("/me/household", N_("My household")),
    MenuItem("/me/entitlements", N_("My entitlements")),
    MenuItem("/me/card", N_("My card")),
    MenuItem("/me/decisions", N_("My decisions")),
    MenuItem("/me/access", N_("Who accessed my record")),
    MenuItem("/me/corrections", N_("Ask for a correction")),
    MenuItem("/me/consent", N_("Health consent")),
    MenuItem("/merchant", N_("Point of sale")),
    MenuItem("/merchant/offline", N_("Offline till")),
    MenuItem("/programmes", N_("Programmes")),
    MenuItem("/programmes/new", N_("New programme")),
    MenuItem("/reports", N_("Coverage and equity")),
    MenuItem("/auditor/log", N_("Access log")),
    MenuItem("/auditor/verify", N_("Verify the log")),
    MenuItem("/auditor/reconciliation", N_("Ledger reconciliation")),
    MenuItem("/admin/catalogue", N_("Field catalogue")),
    MenuItem("/admin/users", N_("Users")),
    MenuItem("/transparency", N_("Transparency")),
)


def menu_for(role: Role | None) -> list[MenuItem]:
    """The items this role (None: not logged in) may open."""
    return [item for item in MENU if allows(("GET", item.path), role)]
