"""``create_app``: the authorization server as a Starlette application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.resources import files

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ostiary.core.endpoints.introspect import introspection_endpoint
from ostiary.core.endpoints.metadata import authorization_server_metadata, openid_configuration
from ostiary.core.endpoints.revoke import revocation_endpoint
from ostiary.core.endpoints.token import DEFAULT_GRANTS, token_endpoint
from ostiary.core.errors import OAuthError
from ostiary.server.adapters import (
    NO_STORE,
    client_credentials,
    json_response,
    oauth_error_response,
    read_form,
    unexpected_error_response,
)
from ostiary.server.audit import RequestAddress
from ostiary.server.context import ServerContext
from ostiary.server.cors import PublicCors
from ostiary.server.maintenance import purge_forever
from ostiary.server.register import RegistrationEndpoint
from ostiary.server.ui.account import AccountViews
from ostiary.server.ui.views import BrowserViews

log = logging.getLogger("ostiary.server")
METADATA_CACHE = {"Cache-Control": "public, max-age=300"}


class MachineEndpoints:
    """Metadata, JWKS and the token endpoint: JSON in, JSON out."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        grants = list(DEFAULT_GRANTS)
        self._as_metadata = authorization_server_metadata(ctx.deps.config, grants)
        self._oidc = openid_configuration(ctx.deps.config, grants)

    async def as_metadata(self, request: Request) -> Response:
        return json_response(self._as_metadata, headers=METADATA_CACHE)

    async def openid_metadata(self, request: Request) -> Response:
        return json_response(self._oidc, headers=METADATA_CACHE)

    async def jwks(self, request: Request) -> Response:
        return json_response(self.ctx.keyring.jwks, headers=METADATA_CACHE)

    async def token(self, request: Request) -> Response:
        try:
            params = await read_form(request)
            credentials = client_credentials(request, params)
            result = await token_endpoint(params, credentials, self.ctx.deps)
        except OAuthError as exc:
            return oauth_error_response(exc)
        except Exception as exc:  # every failure must still be an OAuth error
            return unexpected_error_response(exc)
        return json_response(result.to_json(), headers=NO_STORE)

    async def revoke(self, request: Request) -> Response:
        """RFC 7009 §2.2: an empty 200 whether or not the token was known."""
        try:
            params = await read_form(request)
            credentials = client_credentials(request, params)
            await revocation_endpoint(params, credentials, self.ctx.deps)
        except OAuthError as exc:
            return oauth_error_response(exc)
        except Exception as exc:
            return unexpected_error_response(exc)
        return Response(b"", headers=NO_STORE)

    async def introspect(self, request: Request) -> Response:
        try:
            params = await read_form(request)
            credentials = client_credentials(request, params)
            result = await introspection_endpoint(params, credentials, self.ctx.deps)
        except OAuthError as exc:
            return oauth_error_response(exc)
        except Exception as exc:
            return unexpected_error_response(exc)
        return json_response(result, headers=NO_STORE)


def well_known_paths(issuer_path: str, name: str) -> list[str]:
    """RFC 8414 §3.1 path insertion, plus the appended form OpenID Discovery §4 uses."""
    return list(
        dict.fromkeys([f"/.well-known/{name}{issuer_path}", f"{issuer_path}/.well-known/{name}"])
    )


def routes(ctx: ServerContext, pages: BrowserViews) -> list[Route | Mount]:
    """The URL table."""
    machine, base = MachineEndpoints(ctx), ctx.issuer_path
    account = AccountViews(pages)
    table: list[Route | Mount] = [
        *(
            Route(p, machine.as_metadata)
            for p in well_known_paths(base, "oauth-authorization-server")
        ),
        *(
            Route(p, machine.openid_metadata)
            for p in well_known_paths(base, "openid-configuration")
        ),
        Route(f"{base}/jwks", machine.jwks),
        Route(f"{base}/token", machine.token, methods=["POST"]),
        Route(f"{base}/revoke", machine.revoke, methods=["POST"]),
        Route(f"{base}/introspect", machine.introspect, methods=["POST"]),
        Route(f"{base}/register", RegistrationEndpoint(ctx).handle, methods=["POST"]),
        Route(f"{base}/authorize", pages.authorize, methods=["GET"]),
        Route(f"{base}/login", pages.login_page, methods=["GET"]),
        Route(f"{base}/login", pages.login, methods=["POST"]),
        Route(f"{base}/consent", pages.consent, methods=["POST"]),
        Route(f"{base}/logout", pages.logout, methods=["POST"]),
        Route(f"{base}/account", account.page, methods=["GET"]),
        Route(f"{base}/account/revoke", account.revoke, methods=["POST"]),
        Route(f"{base}/", pages.home, methods=["GET"]),
        Mount(f"{base}/static", StaticFiles(directory=str(files("ostiary.server.ui") / "static"))),
    ]
    return table


def create_app(ctx: ServerContext) -> Starlette:
    """Build the application around an assembled context (see ``server.context``)."""
    views = BrowserViews(ctx)

    machine_paths = {
        f"{ctx.issuer_path}/{name}"
        for name in ("token", "jwks", "revoke", "introspect", "register")
    }

    async def http_error(request: Request, exc: Exception) -> Response:
        """Starlette's 404/405: JSON with no-store on machine endpoints, a page elsewhere."""
        assert isinstance(exc, HTTPException)
        if request.url.path in machine_paths or "/.well-known/" in request.url.path:
            body = {"error": "invalid_request", "error_description": exc.detail}
            return json_response(body, exc.status_code, {**NO_STORE, **(exc.headers or {})})
        return views.pages.render(
            "error.html", status=exc.status_code, error=str(exc.status_code), message=exc.detail
        )

    async def oauth_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OAuthError)
        return views.pages.render(
            "error.html", status=exc.status_code, error=exc.error, message=exc.description or ""
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(
                purge_forever(
                    ctx.deps.storage,
                    ctx.deps.clock,
                    unused_client_ttl=ctx.deps.config.unused_client_ttl,
                )
            ),
            asyncio.create_task(ctx.keyring.reload_forever()),  # picks up `ostiary key rotate`
            asyncio.create_task(ctx.audit.flush_forever()),  # routine events, in batches
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = Starlette(
        routes=routes(ctx, views),
        exception_handlers={OAuthError: oauth_error, HTTPException: http_error},
        lifespan=lifespan,
    )
    base = ctx.issuer_path
    cors_paths = {f"{base}/jwks", f"{base}/token", f"{base}/revoke", f"{base}/introspect"}
    cors_paths.add(f"{base}/register")  # browser-based MCP clients register themselves
    app.add_middleware(RequestAddress)
    app.add_middleware(
        PublicCors, paths=cors_paths, prefixes=("/.well-known/", f"{base}/.well-known/")
    )
    return app
