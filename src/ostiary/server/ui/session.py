"""Browser state: a signed session cookie and a double-submit CSRF cookie.

Cookies are HttpOnly and SameSite=Lax; over https they are ``Secure`` and carry the
``__Host-`` prefix, so no other host or path can set or read them (RFC 6265bis §4.1.3.2).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from ostiary.crypto.compare import constant_time_equals

SESSION_MAX_AGE = 12 * 3600


@dataclass(frozen=True, slots=True)
class BrowserSession:
    user_id: str
    auth_time: int


class CookieJar:
    """Reads and writes Ostiary's two cookies."""

    def __init__(self, signing_key: bytes, *, secure: bool) -> None:
        self._serializer = URLSafeTimedSerializer(signing_key, salt="ostiary session")
        self._secure = secure
        prefix = "__Host-" if secure else ""
        self.session_name = f"{prefix}ostiary_session"
        self.csrf_name = f"{prefix}ostiary_csrf"

    def _set(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self._secure,
            httponly=True,
            samesite="lax",
        )

    def session(self, request: Request) -> BrowserSession | None:
        raw = request.cookies.get(self.session_name)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str):
            return None
        return BrowserSession(user_id=data["u"], auth_time=int(data.get("t", 0)))

    def start_session(self, response: Response, user_id: str, now: int) -> None:
        self._set(
            response,
            self.session_name,
            self._serializer.dumps({"u": user_id, "t": now}),
            SESSION_MAX_AGE,
        )
        self._set(response, self.csrf_name, secrets.token_urlsafe(32), None)

    def end_session(self, response: Response) -> None:
        response.delete_cookie(
            self.session_name, path="/", secure=self._secure, httponly=True, samesite="lax"
        )

    def csrf_token(self, request: Request, response_cookies: dict[str, str]) -> str:
        """The CSRF token for a form; a new one is queued in ``response_cookies`` if needed."""
        token = request.cookies.get(self.csrf_name)
        if not token:
            token = secrets.token_urlsafe(32)
            response_cookies[self.csrf_name] = token
        return token

    def apply(self, response: Response, cookies: dict[str, str]) -> None:
        for name, value in cookies.items():
            self._set(response, name, value, None)

    def csrf_ok(self, request: Request, submitted: str | None) -> bool:
        expected = request.cookies.get(self.csrf_name)
        return bool(expected and submitted) and constant_time_equals(
            expected or "", submitted or ""
        )
