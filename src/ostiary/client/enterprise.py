"""Enterprise-managed authorization (SEP-990, "cross-app access"): tokens without a browser.

The person already signed in to their company's identity provider; the client holds that
sign-in's ID token. It trades it at the identity provider for an identity assertion
authorization grant (ID-JAG, RFC 8693 token exchange), then presents the ID-JAG to the MCP
server's authorization server (RFC 7523 jwt-bearer grant) for an access token.

Neither request follows redirects, and no token or secret sent or received ever reaches an
exception message: server text quoted in an error has those values blanked.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import httpx

from ostiary.client.errors import TokenError
from ostiary.client.models import ClientRegistration, ServerMetadata, TokenSet
from ostiary.client.token_requests import client_auth, parse_token_response

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag"
_EXCERPT = 200
_REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class IdentityAssertion:
    """What the identity provider needs: its token endpoint, this client there, the ID token."""

    idp_token_endpoint: str
    idp_client_id: str
    id_token: str = field(repr=False)
    idp_client_secret: str | None = field(default=None, repr=False)
    idp_issuer: str | None = None


async def enterprise_tokens(
    http: httpx.AsyncClient,
    server: ServerMetadata,
    registration: ClientRegistration,
    assertion: IdentityAssertion,
    *,
    resource: str,
    scope: str | None,
    now: int,
) -> TokenSet:
    """Exchange the ID token for an ID-JAG, then the ID-JAG for an access token."""
    id_jag = await request_id_jag(
        http, assertion, audience=server.issuer, resource=resource, scope=scope
    )
    return await redeem_id_jag(
        http, server, registration, id_jag, resource=resource, scope=scope, now=now
    )


async def request_id_jag(
    http: httpx.AsyncClient,
    assertion: IdentityAssertion,
    *,
    audience: str,
    resource: str,
    scope: str | None,
) -> str:
    """An ID-JAG for ``audience`` (the authorization server's issuer): RFC 8693 §2.1.

    The client authenticates at the identity provider in the form (``client_id``, and
    ``client_secret`` when it has one), as the MCP SDKs do: its metadata is not known here.
    """
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": ID_JAG_TYPE,
        "subject_token": assertion.id_token,
        "subject_token_type": ID_TOKEN_TYPE,
        "audience": audience,
        "resource": resource,
        "client_id": assertion.idp_client_id,
    }
    if assertion.idp_client_secret:
        form["client_secret"] = assertion.idp_client_secret
    if scope:
        form["scope"] = scope
    sent = [assertion.id_token, assertion.idp_client_secret or ""]
    endpoint = assertion.idp_token_endpoint
    response = await _post(http, endpoint, form, {}, "the identity provider's token endpoint")
    answer = _json_object(response)
    if response.status_code != 200:
        raise _idp_refusal(endpoint, response, answer, sent)
    if answer is None:
        raise TokenError(f"The identity provider {endpoint} answered 200 without a JSON object.")
    issued = answer.get("issued_token_type")
    if issued != ID_JAG_TYPE:
        shown = issued[:80] if isinstance(issued, str) else type(issued).__name__
        raise TokenError(
            f"The identity provider {endpoint} issued a token of type {shown!r}, not an "
            f"identity assertion grant ({ID_JAG_TYPE})."
        )
    id_jag = answer.get("access_token")
    if not isinstance(id_jag, str) or not id_jag:
        raise TokenError(f"The identity provider {endpoint} answered without an ID-JAG string.")
    return id_jag


async def redeem_id_jag(
    http: httpx.AsyncClient,
    server: ServerMetadata,
    registration: ClientRegistration,
    id_jag: str,
    *,
    resource: str,
    scope: str | None,
    now: int,
) -> TokenSet:
    """An access token for the ID-JAG: RFC 7523 §2.1 grant with the client's own authentication."""
    form = {"grant_type": JWT_BEARER, "assertion": id_jag, "resource": resource}
    if scope:
        form["scope"] = scope
    auth_form, headers = client_auth(registration, server, now=now, jti=secrets.token_urlsafe(16))
    body = {**form, **auth_form}
    sent = [id_jag, registration.client_secret or "", body.get("client_assertion", "")]
    response = await _post(http, server.token_endpoint, body, headers, "the token endpoint")
    return parse_token_response(
        response, now=now, requested_scope=scope, redact=[value for value in sent if value]
    )


async def _post(
    http: httpx.AsyncClient,
    url: str,
    form: dict[str, str],
    headers: dict[str, str],
    what: str,
) -> httpx.Response:
    try:
        return await http.post(
            url,
            data=form,
            headers={"Accept": "application/json", **headers},
            follow_redirects=False,
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise TokenError(f"Could not reach {what} {url}: {exc.__class__.__name__}") from None


def _json_object(response: httpx.Response) -> dict[str, object] | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _idp_refusal(
    endpoint: str, response: httpx.Response, answer: dict[str, object] | None, sent: list[str]
) -> TokenError:
    status = response.status_code
    if answer is not None and isinstance(answer.get("error"), str):
        error = _blank(str(answer["error"]), sent)[:_EXCERPT]
        description = answer.get("error_description")
        detail = (
            f" ({_blank(description, sent)[:_EXCERPT]})"
            if isinstance(description, str) and description
            else ""
        )
        return TokenError(
            f"The identity provider {endpoint} refused the token exchange: {error}{detail}.", error
        )
    if 300 <= status < 400:
        return TokenError(
            f"The identity provider {endpoint} answered {status} (a redirect); token requests "
            "do not follow redirects."
        )
    text = _blank(response.text, sent)[:_EXCERPT] if response.content else "(empty body)"
    return TokenError(f"The identity provider {endpoint} answered {status}: {text}")


def _blank(text: str, values: list[str]) -> str:
    """``text`` with every sent secret replaced, longest first (one may contain another)."""
    for value in sorted((v for v in values if v), key=len, reverse=True):
        text = text.replace(value, _REDACTED)
    return text
