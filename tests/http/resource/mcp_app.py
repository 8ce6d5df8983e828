"""A small MCP-like Starlette app behind ``ProtectedMCP``, and a token table as the verifier.

The app answers every JSON-RPC request with the method it saw and the caller the middleware
handed it (from ``request.state`` and from the ``caller`` context variable), opens a session
on ``initialize``, and answers GET with a stream placeholder and DELETE with 204.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ostiary.resource import caller
from ostiary.resource.middleware import ProtectedMCP
from ostiary.resource.policy import ScopePolicy
from ostiary.resource.tokens import InvalidToken, VerifiedToken

ORIGIN = "https://mcp.example"
RESOURCE = f"{ORIGIN}/mcp"
ISSUER = "https://as.example"
RM = f"{ORIGIN}/.well-known/oauth-protected-resource/mcp"


def token(subject: str, *scopes: str) -> VerifiedToken:
    return VerifiedToken(
        subject=subject,
        client_id="client-1",
        scopes=frozenset(scopes),
        audience=(RESOURCE,),
        issuer=ISSUER,
        expires_at=2_000_000_000,
    )


TOKENS: dict[str, VerifiedToken] = {
    "empty": token("alice"),
    "read": token("alice", "tools:read", "resources:read", "prompts:read"),
    "prompts": token("alice", "prompts:read"),
    "exec": token("alice", "tools:execute"),
    "write": token("alice", "tools:execute", "resources:write"),
    "bob": token("bob", "tools:read", "resources:read", "prompts:read"),
}


class TableVerifier:
    """Token string → VerifiedToken; anything else is not active."""

    def __init__(self, tokens: Mapping[str, VerifiedToken]) -> None:
        self.tokens = tokens
        self.seen: list[str] = []

    async def verify(self, token: str) -> VerifiedToken:
        self.seen.append(token)
        try:
            return self.tokens[token]
        except KeyError:
            raise InvalidToken("token is not active") from None


def describe(verified: VerifiedToken | None) -> dict[str, Any] | None:
    if verified is None:
        return None
    return {"subject": verified.subject, "scopes": sorted(verified.scopes)}


async def post(request: Request) -> Response:
    raw = await request.body()
    messages = json.loads(raw)
    batch = isinstance(messages, list)
    answers = [
        {
            "jsonrpc": "2.0",
            "id": m["id"],
            "result": {
                "method": m["method"],
                "state": describe(request.scope["state"].get(caller.TOKEN_KEY)),
                "context": describe(caller.current_token()),
                "body_length": len(raw),
            },
        }
        for m in (messages if batch else [messages])
        if "id" in m and "method" in m
    ]
    if not answers:
        return Response(status_code=202)
    headers = {}
    if any(a["result"]["method"] == "initialize" for a in answers):
        headers["mcp-session-id"] = secrets.token_hex(16)
    return JSONResponse(answers if batch else answers[0], headers=headers)


async def stream(request: Request) -> Response:
    return Response("event: ping\n\n", media_type="text/event-stream")


async def end(request: Request) -> Response:
    return Response(status_code=204)


def mcp_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/mcp", post, methods=["POST"]),
            Route("/mcp", stream, methods=["GET"]),
            Route("/mcp", end, methods=["DELETE"]),
        ]
    )


def notes_policy() -> ScopePolicy:
    return (
        ScopePolicy()
        .tool("delete_note", requires={"resources:write"})
        .resource("notes://private/", requires={"resources:write"}, prefix=True)
        .prompt("secret", requires={"resources:read"})
    )


@asynccontextmanager
async def protected(**options: Any) -> AsyncIterator[tuple[httpx.AsyncClient, ProtectedMCP]]:
    options.setdefault("policy", notes_policy())
    options.setdefault("verifier", TableVerifier(TOKENS))
    middleware = ProtectedMCP(
        mcp_app(),
        resource=RESOURCE,
        authorization_servers=[ISSUER],
        resource_name="Notes",
        **options,
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        yield client, middleware


def rpc(method: str, params: dict[str, Any] | None = None, id: int | None = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    if id is not None:
        message["id"] = id
    return message


def bearer(name: str | None) -> dict[str, str]:
    return {} if name is None else {"Authorization": f"Bearer {name}"}
