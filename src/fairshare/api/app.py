"""The FastAPI application: routers, problem details, limits and security headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from fairshare import __version__
from fairshare.api import (
    audit,
    catalogue,
    credentials,
    eligibility,
    identity,
    ledger,
    problems,
    registry,
    reports,
)
from fairshare.api.limits import BodySizeLimit
from fairshare.bootstrap import Services, bootstrap
from fairshare.web.app import mount_web

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_UPLOAD_BYTES = registry.MAX_UPLOAD_BYTES
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; object-src 'none'",
    "Cache-Control": "no-store",
}


def create_app(services: Services | None = None) -> FastAPI:
    app = FastAPI(
        title="Fairshare",
        version=__version__,
        description="Registry, eligibility and entitlements for social protection. Every "
        "access to personal data names its purpose and is written to a hash-chained log.",
    )
    app.state.services = services or bootstrap()
    problems.install(app)
    for module in (identity, catalogue, registry, audit, eligibility, ledger, reports, credentials):
        app.include_router(module.router)
    mount_web(app)  # the pages: everything outside /api, /docs and /healthz

    app.add_middleware(
        BodySizeLimit, default_limit=MAX_BODY_BYTES, limits={"/api/v1/imports": MAX_UPLOAD_BYTES}
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            # The interactive API docs load their own scripts; every other page gets the CSP.
            if name == "Content-Security-Policy" and request.url.path in ("/docs", "/redoc"):
                continue
            response.headers.setdefault(name, value)
        return response

    @app.get("/healthz", tags=["operations"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
