"""Token endpoint requests: authorization code, refresh and client credentials (OAuth 2.1 §3.2).

``client_auth`` turns a registration into form fields and headers for its
``token_endpoint_auth_method`` (REQ-CL-17); ``parse_token_response`` reads an answer strictly.
Every request carries ``resource`` (REQ-CL-13, RFC 8707) and refuses redirects.

Nothing sent (codes, verifiers, secrets, assertions, refresh tokens) or received (tokens)
ever reaches an exception message: server text quoted in an error has those values blanked.
"""

from __future__ import annotations

import base64
import secrets
from urllib.parse import quote_plus

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from ostiary.client.errors import TokenError
from ostiary.client.models import ClientRegistration, ServerMetadata, TokenSet

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60
DEFAULT_SIGNING_ALG = "ES256"
_KEY_TYPES: dict[str, type[ECKey] | type[RSAKey] | type[OKPKey]] = {
    "ES": ECKey,
    "RS": RSAKey,
    "PS": RSAKey,
    "Ed": OKPKey,
}
_EXCERPT = 200
_REDACTED = "[redacted]"
_SECRET_FIELDS = ("code", "code_verifier", "refresh_token", "client_secret", "client_assertion")


# --- client authentication --------------------------------------------------------------------


def client_auth(
    registration: ClientRegistration, server: ServerMetadata, *, now: float, jti: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Form fields and headers that authenticate ``registration`` at the token endpoint."""
    method = registration.token_endpoint_auth_method
    client_id = registration.client_id
    if method == "none":
        return {"client_id": client_id}, {}
    if method == "client_secret_basic":
        return {}, {"Authorization": basic_authorization(client_id, _secret(registration))}
    if method == "client_secret_post":
        return {"client_id": client_id, "client_secret": _secret(registration)}, {}
    if method == "private_key_jwt":
        assertion = client_assertion(registration, server, now=now, jti=jti)
        form = {
            "client_id": client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
        return form, {}
    raise TokenError(f"The token endpoint auth method {method!r} is not supported by Ostiary.")


def _secret(registration: ClientRegistration) -> str:
    if not registration.client_secret:
        raise TokenError(
            f"The client {registration.client_id!r} uses "
            f"{registration.token_endpoint_auth_method} but has no client_secret."
        )
    return registration.client_secret


def basic_authorization(client_id: str, client_secret: str) -> str:
    """``Basic`` credentials, each part form-urlencoded first (RFC 6749 §2.3.1)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def client_assertion(
    registration: ClientRegistration, server: ServerMetadata, *, now: float, jti: str
) -> str:
    """RFC 7523 §2.2 assertion: ``iss`` = ``sub`` = client_id, ``aud`` = the issuer."""
    alg = registration.signing_alg or DEFAULT_SIGNING_ALG
    key_type = _KEY_TYPES.get(alg[:2])
    if key_type is None or not registration.private_key_pem:
        raise TokenError(
            f"The client {registration.client_id!r} uses private_key_jwt but has no private "
            f"key, or an unsupported signing algorithm {alg!r} (ES*, RS*, PS*, EdDSA)."
        )
    issued = int(now)
    claims = {
        "iss": registration.client_id,
        "sub": registration.client_id,
        "aud": server.issuer,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
        "jti": jti,
    }
    try:
        key = key_type.import_key(registration.private_key_pem)
        return jwt.encode({"alg": alg}, claims, key, algorithms=[alg])
    except (JoseError, ValueError, TypeError) as exc:
        # the exception text may quote key material: only its class is shown
        raise TokenError(
            f"Could not sign the client assertion with the {alg} key of "
            f"{registration.client_id!r} ({exc.__class__.__name__})."
        ) from None


# --- grants -----------------------------------------------------------------------------------


async def exchange_code(
    http: httpx.AsyncClient,
    server: ServerMetadata,
    registration: ClientRegistration,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    resource: str,
    now: float,
    scope: str | None = None,
    jti: str | None = None,
) -> TokenSet:
    """Redeem an authorization code (OAuth 2.1 §4.1.3); ``scope`` is what was asked for."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": code_verifier,
        "redirect_uri": redirect_uri,
        "resource": resource,
    }
    return await _token_request(
        http, server, registration, form, now=now, jti=jti, requested_scope=scope
    )


async def refresh(
    http: httpx.AsyncClient,
    server: ServerMetadata,
    registration: ClientRegistration,
    *,
    previous: TokenSet,
    resource: str,
    now: float,
    scope: str | None = None,
    jti: str | None = None,
) -> TokenSet:
    """Refresh ``previous`` (OAuth 2.1 §4.3); its refresh token is kept when none comes back."""
    if not previous.refresh_token:
        raise TokenError("There is no refresh token to use; authorize again.")
    form = {
        "grant_type": "refresh_token",
        "refresh_token": previous.refresh_token,
        "resource": resource,
    }
    if scope:
        form["scope"] = scope
    return await _token_request(
        http,
        server,
        registration,
        form,
        now=now,
        jti=jti,
        requested_scope=scope or previous.scope,
        previous_refresh=previous.refresh_token,
    )


async def client_credentials(
    http: httpx.AsyncClient,
    server: ServerMetadata,
    registration: ClientRegistration,
    *,
    scope: str | None,
    resource: str,
    now: float,
    jti: str | None = None,
) -> TokenSet:
    """A token for the client itself (OAuth 2.1 §4.2)."""
    form = {"grant_type": "client_credentials", "resource": resource}
    if scope:
        form["scope"] = scope
    return await _token_request(
        http, server, registration, form, now=now, jti=jti, requested_scope=scope
    )


async def _token_request(
    http: httpx.AsyncClient,
    server: ServerMetadata,
    registration: ClientRegistration,
    form: dict[str, str],
    *,
    now: float,
    jti: str | None,
    requested_scope: str | None,
    previous_refresh: str | None = None,
) -> TokenSet:
    auth_form, headers = client_auth(
        registration, server, now=now, jti=jti or secrets.token_urlsafe(16)
    )
    body = {**form, **auth_form}
    sent = [body[name] for name in _SECRET_FIELDS if body.get(name)]
    if registration.client_secret:  # sent in a header with client_secret_basic
        sent.append(registration.client_secret)
    try:
        response = await http.post(
            server.token_endpoint,
            data=body,
            headers={"Accept": "application/json", **headers},
            follow_redirects=False,
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise TokenError(
            f"Could not reach the token endpoint {server.token_endpoint}: {exc.__class__.__name__}"
        ) from None
    return parse_token_response(
        response,
        now=now,
        requested_scope=requested_scope,
        previous_refresh=previous_refresh,
        redact=sent,
    )


# --- responses --------------------------------------------------------------------------------


def parse_token_response(
    response: httpx.Response,
    *,
    now: float,
    requested_scope: str | None = None,
    previous_refresh: str | None = None,
    redact: list[str] | None = None,
) -> TokenSet:
    """A ``TokenSet`` from a 200 answer, else ``TokenError`` with the server's reason.

    ``expires_at`` is ``now + expires_in``; a missing ``scope`` means the requested one
    (OAuth 2.1 §3.2.3); a missing ``refresh_token`` keeps ``previous_refresh`` (§4.3.3).
    """
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200:
        raise _refusal(response, answer, redact or [])
    if not isinstance(answer, dict):
        raise TokenError("The token endpoint answered 200 without a JSON object.")
    return TokenSet(
        access_token=_access_token(answer),
        token_type="Bearer",
        expires_at=_expires_at(answer, now),
        refresh_token=_optional_string(answer, "refresh_token") or previous_refresh,
        scope=_optional_string(answer, "scope") or requested_scope,
        obtained_at=now,
    )


def _access_token(answer: dict[str, object]) -> str:
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenError("The token response has no access_token string.")
    token_type = answer.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        shown = token_type if isinstance(token_type, str) else type(token_type).__name__
        raise TokenError(f"The token response has token_type {shown[:40]!r}; only Bearer is used.")
    return token


def _expires_at(answer: dict[str, object], now: float) -> float | None:
    expires_in = answer.get("expires_in")
    if expires_in is None:
        return None
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in < 0:
        raise TokenError(
            f"The token response has expires_in {expires_in!r}; a number of seconds is expected."
        )
    return now + expires_in


def _optional_string(answer: dict[str, object], name: str) -> str | None:
    value = answer.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TokenError(f"The token response field {name!r} is not a string.")
    return value or None


def _refusal(response: httpx.Response, answer: object, redact: list[str]) -> TokenError:
    status = response.status_code
    if status in (400, 401) and isinstance(answer, dict) and isinstance(answer.get("error"), str):
        error = _blank(str(answer["error"]), redact)[:_EXCERPT]
        description = answer.get("error_description")
        detail = (
            f" ({_blank(description, redact)[:_EXCERPT]})"
            if isinstance(description, str) and description
            else ""
        )
        return TokenError(f"The token endpoint refused the request: {error}{detail}.", error)
    if 300 <= status < 400:
        return TokenError(
            f"The token endpoint answered {status} (a redirect); token requests do not follow "
            "redirects."
        )
    text = _blank(response.text, redact)[:_EXCERPT] if response.content else "(empty body)"
    return TokenError(f"The token endpoint answered {status}: {text}")


def _blank(text: str, values: list[str]) -> str:
    """``text`` with every sent secret replaced, longest first (one may contain another)."""
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, _REDACTED)
    return text
