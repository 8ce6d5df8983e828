"""Get a ``client_id`` at an authorization server, in REQ-CL-7 order.

1. a pre-registered credential meant for this issuer (or for any issuer);
2. a client ID metadata document (CIMD): the document's https URL is the ``client_id``, no
   request is made (the server fetches the document itself);
3. dynamic client registration (RFC 7591, REQ-CL-9) at ``registration_endpoint``;
4. otherwise a ``RegistrationError`` that says how to pre-register a client.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ostiary.client.errors import RegistrationError
from ostiary.client.models import ClientRegistration, ServerMetadata
from ostiary.core.redirect_uris import is_loopback_host

_GRANT_TYPES = ["authorization_code", "refresh_token"]
_EXCERPT = 200


@dataclass(frozen=True, slots=True)
class PreRegistered:
    """A client registered by hand; ``issuer`` None means "usable with any server"."""

    client_id: str
    client_secret: str | None = None
    token_endpoint_auth_method: str | None = None
    issuer: str | None = None
    private_key_pem: str | None = None
    signing_alg: str | None = None

    def __repr__(self) -> str:  # the secret and key stay out of logs and tracebacks
        return f"PreRegistered(client_id={self.client_id!r}, issuer={self.issuer!r})"


@dataclass(frozen=True, slots=True)
class ClientProfile:
    """Who the client says it is, and the credentials it already holds."""

    client_name: str = "Ostiary"
    redirect_uris: tuple[str, ...] = ()
    client_metadata_url: str | None = None
    pre_registered: tuple[PreRegistered, ...] = ()
    software_id: str | None = None
    software_version: str | None = None


async def obtain_registration(
    http: httpx.AsyncClient, server: ServerMetadata, profile: ClientProfile, *, now: int
) -> ClientRegistration:
    """A registration for ``server``: pre-registered, CIMD, DCR, else ``RegistrationError``."""
    for credential in profile.pre_registered:
        if credential.issuer is None or credential.issuer == server.issuer:
            return pre_registered(credential, server, profile, now=now)
    if server.client_id_metadata_document_supported and profile.client_metadata_url:
        return metadata_document(profile.client_metadata_url, server, profile, now=now)
    if server.registration_endpoint:
        return await register(http, server, profile, now=now)
    raise RegistrationError(
        f"The authorization server {server.issuer} offers no way to register this client "
        "automatically (no client ID metadata documents, no registration endpoint). Register "
        f"a client there by hand with the redirect URI {_redirects(profile)} and give its "
        "client_id (and client_secret, if it has one) to Ostiary."
    )


def _redirects(profile: ClientProfile) -> str:
    return " or ".join(profile.redirect_uris) or "(none configured)"


def pre_registered(
    credential: PreRegistered, server: ServerMetadata, profile: ClientProfile, *, now: int
) -> ClientRegistration:
    """The registration a hand-made credential stands for."""
    return ClientRegistration(
        client_id=credential.client_id,
        issuer=server.issuer,
        source="pre-registered",
        token_endpoint_auth_method=credential.token_endpoint_auth_method
        or default_auth_method(credential, server),
        client_secret=credential.client_secret,
        redirect_uris=profile.redirect_uris,
        registered_at=now,
        private_key_pem=credential.private_key_pem,
        signing_alg=credential.signing_alg,
    )


def default_auth_method(credential: PreRegistered, server: ServerMetadata) -> str:
    """How a credential without an explicit method authenticates at the token endpoint.

    A private key signs assertions; a secret goes in HTTP Basic (the RFC 7591 default)
    unless the server lists only ``client_secret_post``; without either the client is public.
    """
    if credential.private_key_pem:
        return "private_key_jwt"
    if not credential.client_secret:
        return "none"
    supported = server.token_endpoint_auth_methods_supported
    if supported and "client_secret_basic" not in supported and "client_secret_post" in supported:
        return "client_secret_post"
    return "client_secret_basic"


def metadata_document(
    url: str, server: ServerMetadata, profile: ClientProfile, *, now: int
) -> ClientRegistration:
    """CIMD: the document's URL is the ``client_id``; public client (REQ-CL-8)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.path in ("", "/") or parts.fragment or parts.username:
        raise RegistrationError(
            f"The client metadata document URL {url!r} must be an https URL with a path and "
            "without fragment or user info."
        )
    return ClientRegistration(
        client_id=url,
        issuer=server.issuer,
        source="metadata-document",
        token_endpoint_auth_method="none",
        redirect_uris=profile.redirect_uris,
        registered_at=now,
    )


def registration_request(server: ServerMetadata, profile: ClientProfile) -> dict[str, object]:
    """The RFC 7591 client metadata sent to the registration endpoint (REQ-CL-9)."""
    body: dict[str, object] = {
        "redirect_uris": list(profile.redirect_uris),
        "client_name": profile.client_name,
        "grant_types": list(_GRANT_TYPES),
        "response_types": ["code"],
        "application_type": application_type(profile.redirect_uris),
        "token_endpoint_auth_method": registration_auth_method(server),
    }
    if profile.software_id:
        body["software_id"] = profile.software_id
    if profile.software_version:
        body["software_version"] = profile.software_version
    return body


def application_type(redirect_uris: tuple[str, ...]) -> str:
    """``native`` when every redirect URI is on a loopback host, else ``web``."""
    if redirect_uris and all(is_loopback_host(urlsplit(u).hostname) for u in redirect_uris):
        return "native"
    return "web"


def registration_auth_method(server: ServerMetadata) -> str:
    """Public (``none``) when allowed, else Basic, else post; Basic is RFC 7591's default."""
    supported = server.token_endpoint_auth_methods_supported
    if not supported:
        return "none"
    for method in ("none", "client_secret_basic", "client_secret_post"):
        if method in supported:
            return method
    return "none"


async def register(
    http: httpx.AsyncClient, server: ServerMetadata, profile: ClientProfile, *, now: int
) -> ClientRegistration:
    """Dynamic client registration (RFC 7591 §3); the server's refusal is surfaced as is."""
    endpoint = server.registration_endpoint
    if endpoint is None:
        raise RegistrationError(f"{server.issuer} has no registration endpoint.")
    body = registration_request(server, profile)
    try:
        response = await http.post(
            endpoint, json=body, headers={"Accept": "application/json"}, follow_redirects=False
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise RegistrationError(
            f"Could not reach the registration endpoint {endpoint}: {exc.__class__.__name__}"
        ) from exc
    answer = _registration_answer(response, endpoint)
    client_id = answer.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationError(f"The registration endpoint {endpoint} returned no client_id.")
    secret = answer.get("client_secret")
    method = answer.get("token_endpoint_auth_method")
    return ClientRegistration(
        client_id=client_id,
        issuer=server.issuer,
        source="dynamic",
        token_endpoint_auth_method=method
        if isinstance(method, str) and method
        else str(body["token_endpoint_auth_method"]),
        client_secret=secret if isinstance(secret, str) and secret else None,
        redirect_uris=profile.redirect_uris,
        registered_at=now,
    )


def _registration_answer(response: httpx.Response, endpoint: str) -> dict[str, object]:
    """The JSON object of a 201 (or 200) answer, or the server's error as a RegistrationError."""
    status = response.status_code
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if status in (200, 201) and isinstance(answer, dict):
        return answer
    if status == 400 and isinstance(answer, dict) and isinstance(answer.get("error"), str):
        description = answer.get("error_description")
        detail = f": {description}" if isinstance(description, str) and description else ""
        raise RegistrationError(
            f"The authorization server refused the registration with {answer['error']}{detail}."
        )
    if 300 <= status < 400:
        raise RegistrationError(
            f"The registration endpoint {endpoint} answered {status} (a redirect); "
            "registration requests do not follow redirects."
        )
    excerpt = response.text[:_EXCERPT] if response.content else "(empty body)"
    raise RegistrationError(
        f"The registration endpoint {endpoint} answered {status}, not a registration: {excerpt}"
    )
