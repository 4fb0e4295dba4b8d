"""Mount the web pages on the FastAPI application: routers, static files, headers, 404s.

`fairshare.api.app.create_app` calls `mount_web(app)` after its own routers, so one server
serves the API under /api/v1 and the pages everywhere else.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from fairshare.web import (
    admin,
    auditor,
    auth,
    cards,
    caseworker,
    citizen,
    decisions,
    duplicates,
    merchant,
    merchant_offline,
    programmes,
    public,
    reports,
)
from fairshare.web.rendering import STATIC, error_page
from fairshare.web.routing import begin_visit, finish
from fairshare.web.sessions import SessionPolicy

PAGE_AREAS = (
    auth,
    public,
    caseworker,
    duplicates,
    citizen,
    decisions,
    merchant,
    merchant_offline,
    cards,
    programmes,
    reports,
    auditor,
    admin,
)
# Paths the API owns; everything else is a page (or a static file).
API_PATHS = ("/api/", "/docs", "/redoc", "/openapi.json", "/healthz")
WEB_SECURITY_HEADERS = {
    # No inline script or style anywhere: every script and stylesheet is a file of ours.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # The merchant's card scanner gets camera=(self) on its own paths (SCANNER_HEADERS).
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Strict-Transport-Security": "max-age=63072000",
}
# The point of sale reads QR codes with zxing-cpp compiled to WebAssembly (decision 0023):
# only its pages may open the camera and compile WebAssembly ('wasm-unsafe-eval' allows
# WebAssembly.instantiate, not eval). The .wasm file itself comes from /static like any script.
SCANNER_PATHS = ("/merchant",)
SCANNER_HEADERS = {
    "Content-Security-Policy": WEB_SECURITY_HEADERS["Content-Security-Policy"].replace(
        "script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'"
    ),
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=()",
}
STATIC_CACHE = "public, max-age=86400"  # static URLs carry a digest of the file: safe to cache


def mount_web(app: FastAPI, policy: SessionPolicy | None = None) -> None:
    """Add the pages to an application whose API routes and problem handlers are in place."""
    app.state.web_session_policy = policy or SessionPolicy()
    for area in PAGE_AREAS:
        app.include_router(area.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _serve_http_errors_as_pages(app)

    @app.middleware("http")
    async def web_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if is_api_path(request.url.path):
            return response
        for name, value in WEB_SECURITY_HEADERS.items():
            response.headers[name] = value
        if request.url.path.startswith(SCANNER_PATHS):
            response.headers.update(SCANNER_HEADERS)
        # Pages may show personal data: never stored by the browser or a proxy.
        is_static = request.url.path.startswith("/static/") and response.status_code == 200
        response.headers["Cache-Control"] = STATIC_CACHE if is_static else "no-store"
        return response


def is_api_path(path: str) -> bool:
    return path.startswith(API_PATHS)


def _serve_http_errors_as_pages(app: FastAPI) -> None:
    """Unknown page paths and wrong methods answer with a page; API paths keep problem JSON."""
    api_handler = app.exception_handlers.get(StarletteHTTPException)

    async def handler(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if is_api_path(request.url.path) and api_handler is not None:
            answer = api_handler(request, error)
            return await answer if inspect.isawaitable(answer) else answer
        visit = await run_in_threadpool(begin_visit, request, ("GET", request.url.path))
        if error.status_code == 404:
            response = error_page(
                visit,
                404,
                visit._("Page not found"),
                visit._("There is no page at this address."),
                visit._("Check the address, or use the menu."),
            )
        else:
            response = error_page(
                visit,
                error.status_code,
                visit._("That did not work"),
                visit._(
                    "The request could not be handled (status %(status)s).",
                    status=error.status_code,
                ),
            )
        return finish(visit, response)

    app.add_exception_handler(StarletteHTTPException, handler)
