"""Protected-resource metadata served by the middleware: paths, bodies, CORS and caching."""

from __future__ import annotations

import pytest

from .mcp_app import ISSUER, RESOURCE, protected

SCOPES = ["tools:read", "tools:execute", "resources:read", "resources:write", "prompts:read"]


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/.well-known/oauth-protected-resource/mcp", RESOURCE),
        ("/.well-known/oauth-protected-resource", "https://mcp.example"),
        ("/.well-known/oauth-resource-server/mcp", RESOURCE),
        ("/.well-known/oauth-resource-server", "https://mcp.example"),
    ],
)
async def test_documents(path: str, resource: str) -> None:
    async with protected() as (client, _):
        response = await client.get(path, headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.json() == {
        "resource": resource,
        "authorization_servers": [ISSUER],
        "scopes_supported": SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": "Notes",
    }


async def test_scopes_supported_follow_the_policy_and_never_offline_access() -> None:
    from ostiary.resource.policy import ScopePolicy

    policy = ScopePolicy(baseline={"offline_access"}).tool("admin", requires={"notes:admin"})
    async with protected(policy=policy) as (client, _):
        response = await client.get("/.well-known/oauth-protected-resource/mcp")
    assert response.json()["scopes_supported"] == [*SCOPES, "notes:admin"]


async def test_head_preflight_and_other_methods() -> None:
    path = "/.well-known/oauth-protected-resource/mcp"
    async with protected() as (client, _):
        head = await client.head(path)
        preflight = await client.options(
            path,
            headers={"Origin": "https://x.example", "Access-Control-Request-Method": "GET"},
        )
        post = await client.post(path)
    assert head.status_code == 200
    assert head.content == b""
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert post.status_code == 405
    assert post.headers["allow"] == "GET, HEAD, OPTIONS"


async def test_other_well_known_paths_are_protected() -> None:
    async with protected() as (client, _):
        response = await client.get("/.well-known/oauth-protected-resource/other")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer resource_metadata=")
