"""Discovery: URL orders, metadata validation, scope selection, and ``discover`` over HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ostiary.client.challenges import bearer_challenge
from ostiary.client.discovery import (
    authorization_server_urls,
    canonical_resource,
    discover,
    protected_resource_urls,
    select_scope,
    validate_resource_metadata,
    validate_server_metadata,
)
from ostiary.client.errors import DiscoveryError
from ostiary.client.models import Challenge, ResourceMetadata, ServerMetadata

MCP = "https://mcp.example.com/mcp"
AS = "https://auth.example.com"


# --- URL construction ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mcp_url", "header_url", "expected"),
    [
        (
            "https://m.example/mcp",
            None,
            [
                "https://m.example/.well-known/oauth-protected-resource/mcp",
                "https://m.example/.well-known/oauth-protected-resource",
            ],
        ),
        (
            "https://m.example/mcp",
            "https://m.example/custom/prm.json",
            [
                "https://m.example/custom/prm.json",
                "https://m.example/.well-known/oauth-protected-resource/mcp",
                "https://m.example/.well-known/oauth-protected-resource",
            ],
        ),
        (
            "https://m.example/mcp",
            "https://m.example/.well-known/oauth-protected-resource/mcp",
            [
                "https://m.example/.well-known/oauth-protected-resource/mcp",
                "https://m.example/.well-known/oauth-protected-resource",
            ],
        ),
        ("https://m.example/", None, ["https://m.example/.well-known/oauth-protected-resource"]),
        ("https://m.example", None, ["https://m.example/.well-known/oauth-protected-resource"]),
        (
            "http://127.0.0.1:8000/a/b?x=1#f",
            None,
            [
                "http://127.0.0.1:8000/.well-known/oauth-protected-resource/a/b",
                "http://127.0.0.1:8000/.well-known/oauth-protected-resource",
            ],
        ),
        (
            "https://m.example/mcp",
            "javascript:alert(1)",
            [
                "https://m.example/.well-known/oauth-protected-resource/mcp",
                "https://m.example/.well-known/oauth-protected-resource",
            ],
        ),
    ],
    ids=[
        "path",
        "header first",
        "header duplicate",
        "root slash",
        "root bare",
        "port query fragment",
        "non-http header ignored",
    ],
)
def test_protected_resource_urls(mcp_url: str, header_url: str | None, expected: list[str]) -> None:
    assert protected_resource_urls(mcp_url, header_url) == expected


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        (
            "https://a.example/t1",
            [
                "https://a.example/.well-known/oauth-authorization-server/t1",
                "https://a.example/.well-known/openid-configuration/t1",
                "https://a.example/t1/.well-known/openid-configuration",
            ],
        ),
        (
            "https://a.example/t1/",
            [
                "https://a.example/.well-known/oauth-authorization-server/t1",
                "https://a.example/.well-known/openid-configuration/t1",
                "https://a.example/t1/.well-known/openid-configuration",
            ],
        ),
        (
            "https://a.example",
            [
                "https://a.example/.well-known/oauth-authorization-server",
                "https://a.example/.well-known/openid-configuration",
            ],
        ),
        (
            "https://a.example/",
            [
                "https://a.example/.well-known/oauth-authorization-server",
                "https://a.example/.well-known/openid-configuration",
            ],
        ),
    ],
    ids=["path", "path with slash", "no path", "root slash"],
)
def test_authorization_server_urls(issuer: str, expected: list[str]) -> None:
    urls = authorization_server_urls(issuer)
    assert urls == expected
    if "/t1" in issuer:
        assert "https://a.example/.well-known/oauth-authorization-server" not in urls


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://MCP.Example.COM/Mcp", "https://mcp.example.com/Mcp"),
        ("https://mcp.example.com:443/mcp", "https://mcp.example.com/mcp"),
        ("http://localhost:80/mcp", "http://localhost/mcp"),
        ("http://localhost:8080/mcp", "http://localhost:8080/mcp"),
        ("https://mcp.example.com/mcp#frag", "https://mcp.example.com/mcp"),
        ("https://mcp.example.com/", "https://mcp.example.com"),
        ("https://mcp.example.com", "https://mcp.example.com"),
        ("https://mcp.example.com/mcp/", "https://mcp.example.com/mcp/"),
        ("https://mcp.example.com/mcp?tenant=a", "https://mcp.example.com/mcp?tenant=a"),
        ("http://[::1]:3000/mcp", "http://[::1]:3000/mcp"),
    ],
)
def test_canonical_resource(url: str, expected: str) -> None:
    assert canonical_resource(url) == expected


# --- protected resource metadata --------------------------------------------------------------


def prm(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"resource": MCP, "authorization_servers": [AS], "extra": {"x": 1}}
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


@pytest.mark.parametrize(
    ("doc", "mcp_url"),
    [
        (prm(), MCP),
        (prm(resource="https://mcp.example.com"), MCP),
        (prm(resource="https://mcp.example.com/"), MCP),
        (prm(resource="https://MCP.example.com:443/mcp"), MCP),
        (prm(), MCP + "/"),
        (prm(), MCP + "/sub/path"),
        (prm(resource=MCP + "/"), MCP),
    ],
    ids=[
        "identical",
        "origin",
        "origin slash",
        "normalised origin",
        "mcp slash",
        "below",
        "resource slash",
    ],
)
def test_resource_metadata_accepted(doc: dict[str, Any], mcp_url: str) -> None:
    meta = validate_resource_metadata(doc, mcp_url)
    assert meta.authorization_servers == (AS,)


@pytest.mark.parametrize(
    ("doc", "mcp_url", "fragment"),
    [
        ("not a dict", MCP, "not a JSON object"),
        (prm(resource=None), MCP, "'resource'"),
        (prm(resource="https://evil.example.com/mcp"), MCP, "evil.example.com"),
        (prm(resource="http://mcp.example.com/mcp"), MCP, "'resource'"),
        (prm(resource="https://mcp.example.com:8443/mcp"), MCP, "'resource'"),
        (prm(), "https://mcp.example.com/mcpx", "/mcpx"),
        (prm(resource="https://mcp.example.com/mcp/a"), MCP, "'resource'"),
        (prm(resource="https://mcp.example.com/other"), MCP, "'resource'"),
        (prm(authorization_servers=None), MCP, "'authorization_servers'"),
        (prm(authorization_servers=[]), MCP, "'authorization_servers'"),
        (prm(authorization_servers="https://a"), MCP, "'authorization_servers'"),
        (prm(authorization_servers=["/relative"]), MCP, "'authorization_servers'"),
        (prm(scopes_supported="a b"), MCP, "'scopes_supported'"),
    ],
    ids=[
        "not object",
        "no resource",
        "other host",
        "other scheme",
        "other port",
        "mcpx",
        "resource deeper",
        "sibling path",
        "no servers",
        "empty servers",
        "servers string",
        "relative server",
        "scopes not list",
    ],
)
def test_resource_metadata_rejected(doc: object, mcp_url: str, fragment: str) -> None:
    with pytest.raises(DiscoveryError) as info:
        validate_resource_metadata(doc, mcp_url)
    assert fragment in str(info.value)


def test_resource_mismatch_message_names_both() -> None:
    with pytest.raises(DiscoveryError) as info:
        validate_resource_metadata(prm(resource="https://evil.example.com/mcp"), MCP)
    assert "https://evil.example.com/mcp" in str(info.value) and MCP in str(info.value)


# --- authorization server metadata -------------------------------------------------------------


def asm(issuer: str | None = AS, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "registration_endpoint": f"{issuer}/register",
        "code_challenge_methods_supported": ["plain", "S256"],
        "response_types_supported": ["code"],
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def test_server_metadata_full() -> None:
    meta = validate_server_metadata(
        asm(
            scopes_supported=["a", "offline_access"],
            token_endpoint_auth_methods_supported=["none"],
            grant_types_supported=["authorization_code"],
            client_id_metadata_document_supported=True,
            authorization_response_iss_parameter_supported=True,
            revocation_endpoint=f"{AS}/revoke",
        ),
        AS,
    )
    assert meta == ServerMetadata(
        issuer=AS,
        authorization_endpoint=f"{AS}/authorize",
        token_endpoint=f"{AS}/token",
        registration_endpoint=f"{AS}/register",
        revocation_endpoint=f"{AS}/revoke",
        scopes_supported=("a", "offline_access"),
        code_challenge_methods_supported=("plain", "S256"),
        token_endpoint_auth_methods_supported=("none",),
        grant_types_supported=("authorization_code",),
        client_id_metadata_document_supported=True,
        authorization_response_iss_parameter_supported=True,
    )


@pytest.mark.parametrize(
    "issuer",
    ["http://127.0.0.1:9000", "http://127.5.6.7", "http://[::1]:9000", "http://localhost:9000/t1"],
)
def test_server_metadata_loopback_http_allowed(issuer: str) -> None:
    assert validate_server_metadata(asm(issuer), issuer).issuer == issuer


@pytest.mark.parametrize(
    ("doc", "issuer", "fragment"),
    [
        ([], AS, "not a JSON object"),
        (asm(issuer=None), AS, "no 'issuer'"),
        (asm(AS + "/tenant/"), AS + "/tenant", "must be identical"),
        (asm(AS + "/tenant"), AS + "/tenant/", "must be identical"),
        (asm(AS + "//"), AS, "must be identical"),
        (asm("https://AUTH.example.com"), AS, "must be identical"),
        (asm("https://other.example.com"), AS, "must be identical"),
        (asm(code_challenge_methods_supported=None), AS, "S256"),
        (asm(code_challenge_methods_supported=["plain"]), AS, "S256"),
        (asm(authorization_endpoint=None), AS, "'authorization_endpoint'"),
        (asm(token_endpoint=None), AS, "'token_endpoint'"),
        (asm(token_endpoint="http://auth.example.com/token"), AS, "https"),
        (asm(authorization_endpoint="http://10.0.0.1/authorize"), AS, "https"),
        (asm(registration_endpoint="http://localhost.evil.com/register"), AS, "https"),
        (asm(token_endpoint="ftp://auth.example.com/token"), AS, "'token_endpoint'"),
        (asm("http://auth.example.com"), "http://auth.example.com", "https"),
        (asm(scopes_supported="a"), AS, "'scopes_supported'"),
    ],
    ids=[
        "not object",
        "no issuer",
        "path issuer slash added",
        "path issuer slash dropped",
        "root issuer two slashes",
        "issuer case",
        "other issuer",
        "no pkce",
        "plain only",
        "no authorization endpoint",
        "no token endpoint",
        "http token endpoint",
        "http private ip",
        "localhost lookalike",
        "ftp",
        "http issuer",
        "scopes string",
    ],
)
def test_server_metadata_rejected(doc: object, issuer: str, fragment: str) -> None:
    with pytest.raises(DiscoveryError) as info:
        validate_server_metadata(doc, issuer)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("found", "expected_ok"),
    [
        ("http://localhost:3000", True),
        ("http://localhost:3000/", True),
        ("http://localhost:3000/oauth", True),
        ("http://localhost:4000", False),
        ("https://localhost:3000", False),
    ],
)
def test_legacy_issuer_same_origin_only(found: str, expected_ok: bool) -> None:
    doc = asm(found, authorization_endpoint="http://localhost:3000/oauth/authorize")
    doc["token_endpoint"] = "http://localhost:3000/oauth/token"
    if expected_ok:
        meta = validate_server_metadata(doc, "http://localhost:3000", legacy=True)
        assert meta.issuer == found and meta.legacy
    else:
        with pytest.raises(DiscoveryError):
            validate_server_metadata(doc, "http://localhost:3000", legacy=True)
    if found not in ("http://localhost:3000", "http://localhost:3000/"):
        with pytest.raises(DiscoveryError):
            validate_server_metadata(doc, "http://localhost:3000")


# --- scope ------------------------------------------------------------------------------------

SERVER = ServerMetadata(issuer=AS, authorization_endpoint=AS + "/a", token_endpoint=AS + "/t")
OFFLINE = ServerMetadata(
    issuer=AS,
    authorization_endpoint=AS + "/a",
    token_endpoint=AS + "/t",
    scopes_supported=("mcp:basic", "offline_access"),
)
PRM_SCOPES = ResourceMetadata(
    resource=MCP, authorization_servers=(AS,), scopes_supported=("a", "b")
)
PRM_NONE = ResourceMetadata(resource=MCP, authorization_servers=(AS,))


@pytest.mark.parametrize(
    ("challenge", "prm_meta", "server", "expected"),
    [
        (Challenge("bearer", {"scope": "mcp:basic"}), PRM_SCOPES, SERVER, "mcp:basic"),
        (Challenge("bearer", {"scope": "  x   y "}), PRM_SCOPES, SERVER, "x y"),
        (Challenge("bearer", {}), PRM_SCOPES, SERVER, "a b"),
        (Challenge("bearer", {"scope": ""}), PRM_SCOPES, SERVER, "a b"),
        (None, PRM_SCOPES, SERVER, "a b"),
        (None, PRM_NONE, SERVER, None),
        (None, None, SERVER, None),
        (None, None, OFFLINE, None),
        (Challenge("bearer", {"scope": "mcp:basic"}), None, OFFLINE, "mcp:basic offline_access"),
        (None, PRM_SCOPES, OFFLINE, "a b offline_access"),
        (Challenge("bearer", {"scope": "offline_access x"}), None, OFFLINE, "offline_access x"),
    ],
    ids=[
        "challenge wins",
        "challenge spaces",
        "no challenge scope",
        "empty challenge scope",
        "no challenge",
        "nothing defined",
        "no prm",
        "offline alone not added",
        "offline added",
        "offline added to prm",
        "offline already there",
    ],
)
def test_select_scope(
    challenge: Challenge | None,
    prm_meta: ResourceMetadata | None,
    server: ServerMetadata,
    expected: str | None,
) -> None:
    assert select_scope(challenge, prm_meta, server) == expected


# --- discover over HTTP -----------------------------------------------------------------------

Route = tuple[int, Any]  # (status, JSON document | raw text | headers-with-location)


class FakeServers:
    """Authorization and MCP servers as a URL table; every request is recorded."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url)
        if url not in self.routes:
            return httpx.Response(404, text="Not Found")
        status, body = self.routes[url]
        if isinstance(body, Exception):
            raise body
        if 300 <= status < 400:
            return httpx.Response(status, headers={"Location": body})
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


PRM_PATH = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
PRM_ROOT = "https://mcp.example.com/.well-known/oauth-protected-resource"
AS_OAUTH = f"{AS}/.well-known/oauth-authorization-server"
AS_OIDC = f"{AS}/.well-known/openid-configuration"


async def run(
    servers: FakeServers, challenge: Challenge | None = None, mcp: str = MCP, **kw: Any
) -> tuple[ResourceMetadata | None, ServerMetadata]:
    async with servers.client() as http:
        return await discover(http, mcp, challenge, **kw)


async def test_discover_header_url_first() -> None:
    servers = FakeServers(
        {"https://mcp.example.com/custom/prm.json": (200, prm()), AS_OAUTH: (200, asm())}
    )
    challenge = bearer_challenge(
        ['Bearer resource_metadata="https://mcp.example.com/custom/prm.json"']
    )
    protected, server = await run(servers, challenge)
    assert protected is not None and protected.resource == MCP
    assert server.issuer == AS and not server.legacy
    assert servers.urls == ["https://mcp.example.com/custom/prm.json", AS_OAUTH]
    for request in servers.requests:
        assert request.method == "GET"
        assert request.headers["accept"] == "application/json"
        assert "mcp-protocol-version" not in request.headers


async def test_discover_path_before_root_and_oidc_fallback() -> None:
    servers = FakeServers({PRM_ROOT: (200, prm()), AS_OIDC: (200, asm())})
    _, server = await run(servers)
    assert servers.urls == [PRM_PATH, PRM_ROOT, AS_OAUTH, AS_OIDC]
    assert server.token_endpoint == f"{AS}/token"


async def test_discover_header_404_falls_to_well_known() -> None:
    servers = FakeServers({PRM_PATH: (200, prm()), AS_OAUTH: (200, asm())})
    challenge = Challenge("bearer", {"resource_metadata": "https://mcp.example.com/gone"})
    await run(servers, challenge)
    assert servers.urls == ["https://mcp.example.com/gone", PRM_PATH, AS_OAUTH]


async def test_discover_non_json_prm_is_skipped() -> None:
    servers = FakeServers(
        {PRM_PATH: (200, "<html>hello</html>"), PRM_ROOT: (200, prm()), AS_OAUTH: (200, asm())}
    )
    protected, _ = await run(servers)
    assert protected is not None
    assert servers.urls == [PRM_PATH, PRM_ROOT, AS_OAUTH]


async def test_discover_path_issuer_never_probes_root() -> None:
    issuer = f"{AS}/tenant1"
    servers = FakeServers(
        {
            PRM_PATH: (200, prm(authorization_servers=[issuer])),
            AS_OAUTH: (200, asm()),  # another issuer's document: must not be read
            f"{AS}/tenant1/.well-known/openid-configuration": (200, asm(issuer)),
        }
    )
    _, server = await run(servers)
    assert server.issuer == issuer
    assert servers.urls == [
        PRM_PATH,
        f"{AS}/.well-known/oauth-authorization-server/tenant1",
        f"{AS}/.well-known/openid-configuration/tenant1",
        f"{AS}/tenant1/.well-known/openid-configuration",
    ]


async def test_discover_first_authorization_server_is_used() -> None:
    servers = FakeServers(
        {
            PRM_PATH: (200, prm(authorization_servers=[AS, "https://second.example"])),
            AS_OAUTH: (200, asm()),
        }
    )
    _, server = await run(servers)
    assert server.issuer == AS


async def test_discover_invalid_fetched_metadata_is_an_error_not_next() -> None:
    servers = FakeServers(
        {
            PRM_PATH: (200, prm()),
            AS_OAUTH: (200, asm("https://evil.example")),
            AS_OIDC: (200, asm()),
        }
    )
    with pytest.raises(DiscoveryError, match="must be identical"):
        await run(servers)
    assert servers.urls == [PRM_PATH, AS_OAUTH]


async def test_discover_resource_mismatch_stops_before_the_authorization_server() -> None:
    servers = FakeServers(
        {PRM_PATH: (200, prm(resource="https://evil.example.com/mcp")), AS_OAUTH: (200, asm())}
    )
    with pytest.raises(DiscoveryError, match=r"evil\.example\.com"):
        await run(servers)
    assert servers.urls == [PRM_PATH]


async def test_discover_no_authorization_server_metadata() -> None:
    servers = FakeServers({PRM_PATH: (200, prm())})
    with pytest.raises(DiscoveryError, match="No authorization server metadata") as info:
        await run(servers)
    assert AS_OIDC in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_discover_server_error_during_prm_does_not_fall_back(status: int) -> None:
    servers = FakeServers({PRM_PATH: (status, {"error": "boom"})})
    with pytest.raises(DiscoveryError, match=str(status)):
        await run(servers)
    assert servers.urls == [PRM_PATH]


async def test_discover_network_error() -> None:
    servers = FakeServers({PRM_PATH: (200, httpx.ConnectError("refused"))})
    with pytest.raises(DiscoveryError, match="ConnectError"):
        await run(servers)


@pytest.mark.parametrize("target", [PRM_PATH, AS_OAUTH])
async def test_discover_redirect_is_refused(target: str) -> None:
    routes: dict[str, Route] = {PRM_PATH: (200, prm()), AS_OAUTH: (200, asm())}
    routes[target] = (302, "https://elsewhere.example/doc")
    servers = FakeServers(routes)
    with pytest.raises(DiscoveryError, match="redirect"):
        await run(servers)
    assert "https://elsewhere.example/doc" not in servers.urls


LEGACY_MCP = "http://localhost:3000/mcp"
LEGACY_PRM = [
    "http://localhost:3000/.well-known/oauth-protected-resource/mcp",
    "http://localhost:3000/.well-known/oauth-protected-resource",
]
LEGACY_AS = "http://localhost:3000/.well-known/oauth-authorization-server"


async def test_discover_legacy_metadata_at_root() -> None:
    """The conformance fixture: issuer ``<root>/oauth`` served at the root well-known URL."""
    doc = asm("http://localhost:3000/oauth")
    servers = FakeServers({LEGACY_AS: (200, doc)})
    protected, server = await run(servers, None, LEGACY_MCP)
    assert protected is None
    assert server.legacy
    assert server.issuer == "http://localhost:3000/oauth"
    assert server.token_endpoint == "http://localhost:3000/oauth/token"
    assert servers.urls == [*LEGACY_PRM, LEGACY_AS]
    assert servers.requests[-1].headers["mcp-protocol-version"] == "2025-03-26"


async def test_discover_legacy_protocol_version_passed() -> None:
    servers = FakeServers({LEGACY_AS: (200, asm("http://localhost:3000/"))})
    _, server = await run(servers, None, LEGACY_MCP, protocol_version="2025-06-18")
    assert server.issuer == "http://localhost:3000/"
    assert servers.requests[-1].headers["mcp-protocol-version"] == "2025-06-18"


async def test_discover_legacy_other_origin_issuer_rejected() -> None:
    servers = FakeServers({LEGACY_AS: (200, asm("http://localhost:4000"))})
    with pytest.raises(DiscoveryError, match="must be identical"):
        await run(servers, None, LEGACY_MCP)


async def test_discover_legacy_fallback_endpoints() -> None:
    servers = FakeServers({})
    protected, server = await run(servers, None, LEGACY_MCP)
    assert protected is None
    assert server == ServerMetadata(
        issuer="http://localhost:3000",
        authorization_endpoint="http://localhost:3000/authorize",
        token_endpoint="http://localhost:3000/token",
        registration_endpoint="http://localhost:3000/register",
        code_challenge_methods_supported=("S256",),
        legacy=True,
    )
    assert servers.urls == [*LEGACY_PRM, LEGACY_AS]


async def test_discover_legacy_server_error_is_an_error() -> None:
    servers = FakeServers({LEGACY_AS: (503, "busy")})
    with pytest.raises(DiscoveryError, match="503"):
        await run(servers, None, LEGACY_MCP)


def test_fake_servers_json_roundtrip() -> None:
    # guards the fake itself: bodies are real JSON on the wire
    response = FakeServers({MCP: (200, {"a": 1})})(httpx.Request("GET", MCP))
    assert json.loads(response.content) == {"a": 1}


@pytest.mark.parametrize(("found", "looked_up"), [(AS + "/", AS), (AS, AS + "/")])
def test_a_root_issuer_with_or_without_its_slash_is_the_same_issuer(
    found: str, looked_up: str
) -> None:
    """Resource servers on pydantic URLs publish ``https://as/`` for an issuer ``https://as``."""
    assert validate_server_metadata(asm(found), looked_up).issuer == found
