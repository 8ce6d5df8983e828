"""Serve a protected MCP endpoint and an authorization server on one origin.

``SameOrigin`` routes ``/mcp`` (and everything under it) and the protected-resource metadata
documents to ``ProtectedMCP``, and every other request to the authorization server app (or a
404 when there is none: a resource server only). It answers the ASGI lifespan itself by running
both apps' lifespans, so the MCP app's own start-up (the SDK's session manager) runs too.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ostiary.resource.middleware import ProtectedMCP, respond

NOT_FOUND = json.dumps({"error": "not_found"}).encode()


class LifespanFailed(Exception):
    """An inner app refused to start."""


class _InnerLifespan:
    """Drives one app's lifespan protocol from the outside."""

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self.inbox.get, self.outbox.put)
        except Exception as exc:  # an app without lifespan support raises here
            await self.outbox.put({"type": "ostiary.lifespan.raised", "message": str(exc)})
        else:
            await self.outbox.put({"type": "ostiary.lifespan.returned"})

    async def startup(self) -> None:
        self.task = asyncio.create_task(self._run())
        await self.inbox.put({"type": "lifespan.startup"})
        answer = await self.outbox.get()
        if answer["type"] == "lifespan.startup.failed":
            raise LifespanFailed(answer.get("message", ""))
        if answer["type"] != "lifespan.startup.complete":
            self.task = None  # no lifespan support: nothing to shut down

    async def shutdown(self) -> None:
        if self.task is None:
            return
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self.outbox.get()
        await self.task


class SameOrigin:
    """``/mcp`` and its metadata to ``protected``; the rest to ``auth_app`` (or 404)."""

    def __init__(
        self, protected: ProtectedMCP, auth_app: ASGIApp | None = None, *, path: str = "/mcp"
    ) -> None:
        self.protected = protected
        self.auth_app = auth_app
        self.path = path.rstrip("/")

    def routes_to_mcp(self, path: str) -> bool:
        return (
            path == self.path
            or path.startswith(self.path + "/")
            or path in self.protected.documents
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif self.routes_to_mcp(scope.get("path", "")):
            await self.protected(scope, receive, send)
        elif self.auth_app is not None:
            await self.auth_app(scope, receive, send)
        elif scope["type"] == "http":
            await respond(send, 404, [(b"content-type", b"application/json")], NOT_FOUND)
        else:
            await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        apps = [self.protected] + ([self.auth_app] if self.auth_app is not None else [])
        inner = [_InnerLifespan(app, scope) for app in apps]
        started: list[_InnerLifespan] = []
        await receive()  # lifespan.startup
        try:
            for lifespan in inner:
                await lifespan.startup()
                started.append(lifespan)
        except LifespanFailed as exc:
            for lifespan in reversed(started):
                await lifespan.shutdown()
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        for lifespan in reversed(started):
            await lifespan.shutdown()
        await send({"type": "lifespan.shutdown.complete"})
