"""``OAuth`` for httpx and ``OAuth2`` for httpx2 (the client library of the official ``mcp`` SDK).

Both are the same short loop over ``OAuthClient``::

    send with the stored token (refreshed first if it is about to expire)
    401                      -> recover once (refresh, else log in), resend
    403 insufficient_scope   -> step up (union of scopes), resend; OAuthClient.step_up
                                limits how often, per operation
    anything else            -> done

Only a 401 or 403 answer's body is read, so a streamed answer (an SSE stream on GET) flows
to the caller untouched. Usage::

    async with httpx2.AsyncClient(auth=OAuth2(client)) as http:
        async with streamable_http_client(url, http_client=http) as (read, write): ...
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Generator
from typing import Any, Protocol

import httpx
import httpx2

from ostiary.client.challenges import bearer_challenge
from ostiary.client.oauth import OAuthClient


class _Response(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Any: ...

    async def aread(self) -> bytes: ...


async def _flow(client: OAuthClient, request: Any) -> AsyncGenerator[Any, Any]:
    token = await client.access_token()
    if token is not None:
        request.headers["Authorization"] = f"Bearer {token}"
    response: _Response = yield request
    recovered = False
    while True:
        challenge = None
        if response.status_code in (401, 403):
            await response.aread()
            challenge = bearer_challenge(response.headers.get_list("www-authenticate"))
        if response.status_code == 401 and not recovered:
            recovered = True
            token = await client.recover(challenge, token)
        elif (
            response.status_code == 403
            and challenge is not None
            and challenge.error == "insufficient_scope"
        ):
            token = await client.step_up(challenge, token, operation_of(request))
        else:
            return
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request


def operation_of(request: Any) -> str:
    """``POST tools/call delete_note``: what a step-up limit is counted against."""
    parts = [str(request.method)]
    try:
        message = json.loads(request.content) if request.content else None
    except (ValueError, UnicodeDecodeError):
        message = None
    if isinstance(message, dict):
        parts.append(str(message.get("method", "")))
        params = message.get("params")
        if isinstance(params, dict):
            parts.append(str(params.get("name") or params.get("uri") or ""))
    return " ".join(p for p in parts if p)


class _Flow:
    """What both adapters are: ``_flow`` driven by the client library's auth machinery."""

    requires_request_body = True
    name = "OAuth"

    def __init__(self, client: OAuthClient) -> None:
        self.client = client

    def sync_auth_flow(self, request: Any) -> Generator[Any, Any]:
        raise RuntimeError(f"ostiary.client.{self.name} needs an AsyncClient")

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        flow = _flow(self.client, request)
        outgoing = await anext(flow)
        while True:
            response = yield outgoing
            try:
                outgoing = await flow.asend(response)
            except StopAsyncIteration:
                return


class OAuth(_Flow, httpx.Auth):
    """``httpx.Auth`` for ``httpx.AsyncClient`` (the synchronous client is not supported)."""


class OAuth2(_Flow, httpx2.Auth):
    """The same for ``httpx2.AsyncClient``, which the official ``mcp`` SDK's client uses."""

    name = "OAuth2"
