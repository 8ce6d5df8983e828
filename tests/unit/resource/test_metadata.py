"""Protected-resource metadata documents and the paths they are served at."""

from __future__ import annotations

import json

import pytest

from ostiary.resource.metadata import ProtectedResource


def make(resource: str = "HTTPS://H.example/mcp/") -> ProtectedResource:
    return ProtectedResource.create(
        resource, ["https://as.example"], ["tools:read", "tools:execute"], "Notes"
    )


def test_path_document_carries_the_exact_mcp_url() -> None:
    pr = make()
    assert pr.resource == "https://h.example/mcp"
    assert pr.metadata_url == "https://h.example/.well-known/oauth-protected-resource/mcp"
    docs = {path: json.loads(body) for path, body in pr.documents().items()}
    assert set(docs) == {
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-resource-server/mcp",
        "/.well-known/oauth-resource-server",
    }
    assert docs["/.well-known/oauth-protected-resource/mcp"] == {
        "resource": "https://h.example/mcp",
        "authorization_servers": ["https://as.example"],
        "scopes_supported": ["tools:read", "tools:execute"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Notes",
    }
    assert docs["/.well-known/oauth-protected-resource"]["resource"] == "https://h.example"
    assert docs["/.well-known/oauth-resource-server/mcp"]["resource"] == "https://h.example/mcp"
    assert docs["/.well-known/oauth-resource-server"]["resource"] == "https://h.example"
    assert pr.identifiers == ("https://h.example/mcp", "https://h.example")


def test_endpoint_at_the_root() -> None:
    pr = make("https://h.example/")
    docs = {path: json.loads(body) for path, body in pr.documents().items()}
    assert set(docs) == {
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-resource-server",
    }
    assert docs["/.well-known/oauth-protected-resource"]["resource"] == "https://h.example"
    assert pr.metadata_url == "https://h.example/.well-known/oauth-protected-resource"
    assert pr.identifiers == ("https://h.example",)


def test_empty_scopes_are_omitted_and_an_issuer_is_required() -> None:
    pr = ProtectedResource.create("https://h.example/mcp", ["https://as.example"], [])
    assert "scopes_supported" not in pr.document(pr.resource)
    with pytest.raises(ValueError, match="authorization server"):
        ProtectedResource.create("https://h.example/mcp", [], ["tools:read"])
