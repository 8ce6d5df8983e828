"""The browser side of the authorization endpoint: login, consent, logout (thin handlers)."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.core.client_documents import is_document_url
from ostiary.core.consent import consent_covers, remember_consent
from ostiary.core.endpoints.authorize import (
    AuthorizationRequest,
    deny,
    error_redirect,
    issue_authorization_code,
    validate_authorization_request,
)
from ostiary.core.errors import RedirectError, UnsafeRedirectError
from ostiary.core.models import ClientId, User, UserId
from ostiary.core.params import Params
from ostiary.core.redirect_uris import is_loopback
from ostiary.core.scopes import SCOPE_DESCRIPTIONS, SUPPORTED_SCOPES, format_scope
from ostiary.crypto.passwords import verify_password
from ostiary.server.adapters import read_form
from ostiary.server.context import ServerContext
from ostiary.server.ui.pages import PAGE_HEADERS, Pages
from ostiary.server.ui.session import CookieJar
from ostiary.server.ui.throttle import LoginThrottle

MAX_USERNAME = 150
MAX_PASSWORD = 1024


class BrowserViews:
    """Handlers for the pages a person sees."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.deps = ctx.deps
        self.base = ctx.issuer_path
        self.pages = Pages(ctx.templates_dir, f"{self.base}/static")
        self.cookies = CookieJar(ctx.keys.cookie_signing, secure=ctx.secure_cookies)
        self.throttle = LoginThrottle(ctx.deps.clock)

    # helpers
    def _redirect(self, url: str, status: int = 303) -> Response:
        return RedirectResponse(url, status_code=status, headers={"Cache-Control": "no-store"})

    async def _current_user(self, request: Request) -> User | None:
        session = self.cookies.session(request)
        if session is None:
            return None
        return await self.deps.storage.get_user(UserId(session.user_id))

    def _error_page(self, exc: UnsafeRedirectError) -> Response:
        return self.pages.render(
            "error.html",
            status=400,
            error=exc.error.error,
            message=exc.error.description or "The request is invalid.",
        )

    def _safe_next(self, value: str | None) -> str:
        """Only ever return to this server's own authorize endpoint, account page or home
        (no open redirect)."""
        authorize = f"{self.base}/authorize?"
        if value == f"{self.base}/account":
            return value
        if (
            value
            and value.startswith(authorize)
            and "\\" not in value
            and not urlsplit(value).netloc
        ):
            return value
        return f"{self.base}/"

    def _render(
        self, request: Request, template: str, status: int = 200, **context: object
    ) -> Response:
        new_cookies: dict[str, str] = {}
        csrf = self.cookies.csrf_token(request, new_cookies)
        response = self.pages.render(template, status=status, csrf_token=csrf, **context)
        self.cookies.apply(response, new_cookies)
        return response

    # authorize
    async def authorize(self, request: Request) -> Response:
        params: Params = parse_qs(request.url.query, keep_blank_values=True)
        try:
            auth = await validate_authorization_request(params, self.deps)
        except UnsafeRedirectError as exc:
            return self._error_page(exc)
        except RedirectError as exc:
            return self._redirect(error_redirect(exc, self.deps.config.issuer), 302)
        user = await self._current_user(request)
        if user is None:
            next_url = f"{self.base}/authorize?{request.url.query}"
            return self._redirect(f"{self.base}/login?next={quote(next_url, safe='')}", 302)
        if await consent_covers(user.user_id, auth.client.client_id, auth.scopes, self.deps):
            url = await issue_authorization_code(auth, user.user_id, auth.scopes, self.deps)
            return self._redirect(url, 302)
        return self._consent_page(request, auth, user)

    def _consent_page(self, request: Request, auth: AuthorizationRequest, user: User) -> Response:
        host = urlsplit(auth.redirect_uri).hostname or auth.redirect_uri
        scopes = [
            {"name": s, "description": SCOPE_DESCRIPTIONS.get(s, s)}
            for s in (*SUPPORTED_SCOPES, *sorted(auth.scopes - set(SUPPORTED_SCOPES)))
            if s in auth.scopes
        ]
        return self._render(
            request,
            "consent.html",
            action=f"{self.base}/consent",
            client_name=auth.client.client_name,
            publisher=publisher_host(auth.client.client_id),
            client_id=auth.client.client_id,
            username=user.username,
            redirect_host=host,
            localhost_redirect=is_loopback(auth.redirect_uri),
            scopes=scopes,
            resource=auth.resource,
            request_query=request.url.query,
        )

    async def consent(self, request: Request) -> Response:
        form = await read_form(request)
        if not self.cookies.csrf_ok(request, _first(form, "csrf_token")):
            return self.pages.render(
                "error.html", 403, error="csrf", message="The form expired. Go back and try again."
            )
        query = _first(form, "request") or ""
        user = await self._current_user(request)
        if user is None:
            next_url = f"{self.base}/authorize?{query}"
            return self._redirect(f"{self.base}/login?next={quote(next_url, safe='')}")
        try:
            auth = await validate_authorization_request(
                parse_qs(query, keep_blank_values=True), self.deps
            )
        except UnsafeRedirectError as exc:
            return self._error_page(exc)
        except RedirectError as exc:
            return self._redirect(error_redirect(exc, self.deps.config.issuer))
        chosen = frozenset(form.get("scope", ())) & auth.scopes
        client_id = ClientId(auth.client.client_id)
        if _first(form, "decision") != "approve" or not chosen:
            await self.deps.events.emit(
                "consent", "failure", user_id=user.user_id, client_id=client_id, detail="refused"
            )
            return self._redirect(deny(auth, self.deps.config.issuer))
        await remember_consent(user.user_id, client_id, chosen, self.deps)
        await self.deps.events.emit(
            "consent",
            "success",
            user_id=user.user_id,
            client_id=client_id,
            detail=f"scopes={format_scope(chosen)}",
        )
        return self._redirect(await issue_authorization_code(auth, user.user_id, chosen, self.deps))

    # login and logout
    async def login_page(self, request: Request) -> Response:
        next_url = self._safe_next(request.query_params.get("next"))
        return await self._login_form(request, next_url, "", None, 200)

    async def _client_name(self, next_url: str) -> str | None:
        client_id = parse_qs(urlsplit(next_url).query).get("client_id", [""])[0]
        client = await self.deps.storage.get_client(ClientId(client_id)) if client_id else None
        return client.client_name if client else None

    async def _login_form(
        self, request: Request, next_url: str, username: str, error: str | None, status: int
    ) -> Response:
        return self._render(
            request,
            "login.html",
            status=status,
            action=f"{self.base}/login",
            next=next_url,
            username=username,
            error=error,
            client_name=await self._client_name(next_url),
        )

    async def login(self, request: Request) -> Response:
        form = await read_form(request)
        next_url = self._safe_next(_first(form, "next"))
        if not self.cookies.csrf_ok(request, _first(form, "csrf_token")):
            return await self._login_form(
                request, next_url, "", "The form expired. Please try again.", 403
            )
        username = (_first(form, "username") or "").strip()[:MAX_USERNAME]
        password = (_first(form, "password") or "")[:MAX_PASSWORD]
        address = request.client.host if request.client else "unknown"
        user = await self.deps.storage.get_user_by_name(username) if username else None
        if not self.throttle.allowed(address, username):
            await self._login_event("login_throttled", user, "too many failed attempts")
            message = "Too many failed attempts. Wait a few minutes and try again."
            return await self._login_form(request, next_url, username, message, 429)
        ok = await run_in_threadpool(
            verify_password, user.password_hash if user else None, password
        )
        if user is None or not ok:
            self.throttle.failed(address, username)
            await self._login_event("login", user, "wrong password")
            return await self._login_form(
                request, next_url, username, "Wrong username or password.", 400
            )
        self.throttle.succeeded(address, username)
        await self.deps.events.emit("login", "success", user_id=user.user_id)
        response = self._redirect(next_url)
        self.cookies.start_session(response, user.user_id, self.deps.clock.now())
        return response

    async def _login_event(self, event: str, user: User | None, reason: str) -> None:
        """A failed sign-in. An unknown name is not recorded: it may be a password typed
        into the wrong field; a known one is recorded as its user id."""
        if user is None:
            await self.deps.events.emit(event, "failure", detail="unknown username")
        else:
            await self.deps.events.emit(event, "failure", user_id=user.user_id, detail=reason)

    async def logout(self, request: Request) -> Response:
        form = await read_form(request)
        response = self._redirect(f"{self.base}/")
        if self.cookies.csrf_ok(request, _first(form, "csrf_token")):
            self.cookies.end_session(response)
        return response

    async def home(self, request: Request) -> Response:
        user = await self._current_user(request)
        issuer = self.deps.config.issuer
        return self._render(
            request,
            "home.html",
            issuer=issuer,
            username=user.username if user else None,
            metadata_url=f"{self.base}/.well-known/openid-configuration",
            login_url=f"{self.base}/login",
            logout_action=f"{self.base}/logout",
            account_url=f"{self.base}/account",
        )


def publisher_host(client_id: str) -> str | None:
    """The host that publishes a metadata-document client (REQ-AS-25), else None."""
    return urlsplit(client_id).hostname if is_document_url(client_id) else None


def _first(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


__all__ = ["PAGE_HEADERS", "BrowserViews"]
