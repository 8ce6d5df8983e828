"""``POST /register``: Dynamic Client Registration (RFC 7591 §3) over HTTP.

Each address may register ``registration_rate_limit`` clients an hour (per process); beyond
that the answer is 429 with ``Retry-After`` and no audit event, so a flood cannot fill the
audit trail. Everything else is the core's (``core.endpoints.register``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ostiary.core.endpoints.register import register_client
from ostiary.core.errors import OAuthError
from ostiary.core.registration import RegistrationRateLimited
from ostiary.server.adapters import (
    NO_STORE,
    json_response,
    oauth_error_response,
    read_json,
    unexpected_error_response,
)
from ostiary.server.context import ServerContext
from ostiary.server.rate_limit import RateLimiter

REGISTRATION_WINDOW = 3600


class RegistrationEndpoint:
    def __init__(self, ctx: ServerContext) -> None:
        self.deps = ctx.deps
        self.limiter = RateLimiter(
            ctx.deps.clock,
            limit=ctx.deps.config.registration_rate_limit,
            window=REGISTRATION_WINDOW,
        )

    async def handle(self, request: Request) -> Response:
        address = request.client.host if request.client else "unknown"
        try:
            wait = self.limiter.acquire(address)
            if wait:
                raise RegistrationRateLimited(wait)
            try:
                metadata = await read_json(request)
            except OAuthError as exc:
                await self.deps.events.emit(
                    "client_registered", "failure", detail=f"{exc.error}: {exc.description}"
                )
                raise
            result = await register_client(metadata, self.deps)
        except OAuthError as exc:
            return oauth_error_response(exc)
        except Exception as exc:  # every failure must still be an OAuth error
            return unexpected_error_response(exc)
        return json_response(result.to_json(), 201, headers=NO_STORE)
