"""CORS for the machine endpoints, so browser-based MCP clients can discover and redeem.

Only metadata, JWKS and the token endpoint get it; they use no cookies, so ``*`` is safe.
The pages people see never get it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_HEADERS = "Authorization, Content-Type, MCP-Protocol-Version"


class PublicCors:
    """Adds ``Access-Control-Allow-Origin: *`` on ``paths`` and answers their preflights."""

    def __init__(self, app: ASGIApp, paths: set[str], prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.paths = paths
        self.prefixes = prefixes

    def _applies(self, path: str) -> bool:
        return path in self.paths or path.startswith(self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", b"*"),
                        (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                        (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                        (b"access-control-max-age", b"600"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", b"*"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)
