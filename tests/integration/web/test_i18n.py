"""Pages in Spanish: chosen by the browser's language or the language switch."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fairshare.identity.model import Purpose, Role
from tests.integration.web.conftest import Registered, UserFactory, csrf_token, log_in


def test_pages_render_in_spanish_from_the_browser_language(web: TestClient) -> None:
    """Accept-Language decides for a first visit; the page says lang="es"."""
    page = web.get("/login", headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert '<html lang="es">' in page.text
    assert "Iniciar sesión en Fairshare" in page.text and "Contraseña" in page.text


def test_language_switch_is_remembered(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """Choosing Español is a form; the choice sticks across pages and roles' pages."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = csrf_token(web.get("/login").text)
    switched = web.post(
        "/language",
        data={"language": "es", "next": "/login", "csrf_token": token},
        follow_redirects=False,
    )
    assert switched.headers["location"] == "/login"
    assert "Iniciar sesión" in web.get("/login").text
    log_in(web, "luis.caseworker", Purpose.HEALTH_ASSESSMENT)
    person = web.get(f"/caseworker/people/{registered.person_id}").text
    assert "Información de salud" in person and "Psicosocial" in person
    assert "Actuando para:" in person and "Evaluación de salud" in person
    public = web.get("/transparency").text
    assert "Lo que Fairshare nunca recoge" in public and "afiliación a partidos" in public


def test_spanish_form_errors(web: TestClient, make_user: UserFactory) -> None:
    """Errors next to fields read in Spanish, with the field's Spanish label."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.REGISTRATION)
    web.post("/language", data={"language": "es", "csrf_token": token})
    answer = web.post(
        "/caseworker/households/new",
        data={"csrf_token": token, "member-0.monthly_income": "mucho"},
    )
    assert "Hay un problema" in answer.text
    assert "Región: es obligatorio" in answer.text
    assert "Ingreso mensual: debe ser un número como 120.50, no &#39;mucho&#39;" in answer.text
