"""The FastAPI application: routers, problem details, limits and security headers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from fairshare import __version__
from fairshare.api import (
    audit,
    catalogue,
    credentials,
    dedup,
    eligibility,
    identity,
    ledger,
    problems,
    registry,
    reports,
)
from fairshare.api.deps import document_idempotency_key
from fairshare.api.limits import BodySizeLimit
from fairshare.audit import services as audit_services
from fairshare.bootstrap import Services, bootstrap
from fairshare.identity.throttle import LoginThrottle, ThrottlePolicy
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


def _complete_openapi(app: FastAPI) -> None:
    """What FastAPI cannot infer: the problem-details component and the required key header."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = generate()  # cached by FastAPI as app.openapi_schema
            problems.add_problem_schema(generated)
            document_idempotency_key(generated)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


CHAIN_EVERY_SECONDS = 1.0
_log = logging.getLogger(__name__)


async def _chain_access_log(services: Services) -> None:
    """Chain the access-log outbox into the log every second (PostgreSQL; decision 0027)."""
    while True:
        await asyncio.sleep(CHAIN_EVERY_SECONDS)
        try:
            await run_in_threadpool(audit_services.chain_pending, services.uow)
        except Exception:  # the next round tries again; readers chain before reading anyway
            _log.exception("chaining the access-log outbox failed")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    services: Services = app.state.services
    chainer = None
    try:
        dialect = services.engine.dialect.name
    except RuntimeError:  # services on a test's connection: its test reads the log itself
        dialect = None
    if dialect == "postgresql":
        chainer = asyncio.create_task(_chain_access_log(services))
    yield
    if chainer is not None:
        chainer.cancel()


def create_app(services: Services | None = None) -> FastAPI:
    app = FastAPI(
        title="Fairshare",
        lifespan=_lifespan,
        version=__version__,
        description="Registry, eligibility and entitlements for social protection. Every "
        "access to personal data names its purpose and is written to a hash-chained log.",
    )
    app.state.services = services or bootstrap()
    settings = app.state.services.settings
    # One count of failed logins per process, shared by the API and the login page.
    app.state.login_throttle = LoginThrottle(
        ThrottlePolicy(settings.login_throttle_failures, settings.login_throttle_minutes * 60)
    )
    problems.install(app)
    _complete_openapi(app)
    for module in (
        identity,
        catalogue,
        registry,
        dedup,
        audit,
        eligibility,
        ledger,
        reports,
        credentials,
    ):
        app.include_router(module.router, responses=problems.responses())
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
