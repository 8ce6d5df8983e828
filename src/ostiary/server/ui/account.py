"""The account page: the applications a signed-in person authorized, each revocable."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from ostiary.core.account import authorized_applications, revoke_own_grant
from ostiary.core.models import GrantId
from ostiary.server.adapters import read_form
from ostiary.server.ui.views import BrowserViews, _first


def when(timestamp: int | None) -> str:
    """A time as the page shows it: UTC, to the minute."""
    if timestamp is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


class AccountViews:
    """``GET /account`` and ``POST /account/revoke``, sharing the browser views' session,
    CSRF cookie and templates."""

    def __init__(self, views: BrowserViews) -> None:
        self.views = views
        self.deps = views.deps
        self.path = f"{views.base}/account"

    def _to_login(self) -> Response:
        return self.views._redirect(f"{self.views.base}/login?next={self.path}")

    async def page(self, request: Request) -> Response:
        user = await self.views._current_user(request)
        if user is None:
            return self._to_login()
        apps = await authorized_applications(user.user_id, self.deps.storage)
        rows = [
            {
                "grant_id": app.grant.grant_id,
                "client_name": app.client_name,
                "scopes": [{"name": n, "description": d} for n, d in app.scopes],
                "authorized": when(app.authorized_at),
                "last_used": when(app.last_used_at),
            }
            for app in apps
        ]
        return self.views._render(
            request,
            "account.html",
            username=user.username,
            applications=rows,
            revoke_action=f"{self.path}/revoke",
            home_url=f"{self.views.base}/",
            revoked=request.query_params.get("revoked") == "1",
        )

    async def revoke(self, request: Request) -> Response:
        form = await read_form(request)
        if not self.views.cookies.csrf_ok(request, _first(form, "csrf_token")):
            return self.views.pages.render(
                "error.html", 403, error="csrf", message="The form expired. Go back and try again."
            )
        user = await self.views._current_user(request)
        if user is None:
            return self._to_login()
        grant_id = (_first(form, "grant_id") or "")[:200]
        done = bool(grant_id) and await revoke_own_grant(
            user.user_id,
            GrantId(grant_id),
            storage=self.deps.storage,
            events=self.deps.events,
            now=self.deps.clock.now(),
        )
        if not done:
            return self.views._render(
                request,
                "error.html",
                status=404,
                error="not_found",
                message="There is no such authorization on your account.",
            )
        return self.views._redirect(f"{self.path}?revoked=1")
