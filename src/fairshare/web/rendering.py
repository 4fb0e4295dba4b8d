"""Jinja2 rendering: one environment, the translation functions, and the error pages."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.responses import HTMLResponse, RedirectResponse

from fairshare.identity.model import ROLE_PURPOSES
from fairshare.web.i18n import LANGUAGES
from fairshare.web.labels import CHOICE_LABELS, PURPOSE_DESCRIPTIONS, PURPOSE_LABELS, ROLE_LABELS
from fairshare.web.navigation import menu_for

if TYPE_CHECKING:
    from fairshare.web.routing import Visit

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@pass_context
def _gettext(context: Context, message: str) -> str:
    return context["visit"].translator.gettext(message)  # type: ignore[no-any-return]


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    message = singular if count == 1 else plural
    return context["visit"].translator.gettext(message)  # type: ignore[no-any-return]


@pass_context
def _translate_text(context: Context, text: object) -> str:
    """`{{ value|t }}`: a label from data, translated if known, never used as a format."""
    return context["visit"].translator.gettext(str(text))  # type: ignore[no-any-return]


def moment(value: object) -> str:
    """`{{ value|moment }}`: a UTC time as 2026-11-30 14:05 UTC, from a datetime or ISO text."""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return f"{text[:16].replace('T', ' ')} UTC"


@cache
def static_url(name: str) -> str:
    """The URL of a static file, with a digest of its content so caches never serve it stale."""
    version = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={version}"


def _build_environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True
    )
    environment.filters["t"] = _translate_text
    environment.filters["moment"] = moment
    environment.globals.update(
        static=static_url,
        LANGUAGES=LANGUAGES,
        ROLE_LABELS=ROLE_LABELS,
        PURPOSE_LABELS=PURPOSE_LABELS,
        PURPOSE_DESCRIPTIONS=PURPOSE_DESCRIPTIONS,
        CHOICE_LABELS=CHOICE_LABELS,
    )
    return environment


environment = _build_environment()


def render(visit: Visit, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page, in the visit's language, with the menu of the visitor's role."""
    role = visit.user.role if visit.user else None
    html = environment.get_template(template).render(
        visit=visit,
        menu=menu_for(role),
        several_purposes=role is not None and len(ROLE_PURPOSES[role]) > 1,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def redirect(path: str) -> RedirectResponse:
    """See other: after a form, the browser fetches the next page with GET."""
    return RedirectResponse(path, status_code=303)


def error_page(
    visit: Visit, status: int, title: str, message: str, advice: str = ""
) -> HTMLResponse:
    """A page that says what went wrong and what to do; texts already translated."""
    return render(visit, "errors/error.html", status, title=title, message=message, advice=advice)
