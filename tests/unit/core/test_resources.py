"""Resource indicators (RFC 8707): normalisation and selection."""

from __future__ import annotations

import pytest

from ostiary.core.errors import InvalidTarget
from ostiary.core.resources import normalize_resource, select_resource

from ..support import OTHER_RESOURCE, RESOURCE

KNOWN = (RESOURCE, OTHER_RESOURCE)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        pytest.param(RESOURCE, RESOURCE, id="canonical-unchanged"),
        pytest.param("HTTPS://AS.EXAMPLE.COM/mcp", RESOURCE, id="scheme-and-host-lowercased"),
        pytest.param(RESOURCE + "/", RESOURCE, id="trailing-slash-dropped"),
        pytest.param(
            "https://as.example.com/MCP", "https://as.example.com/MCP", id="path-case-kept"
        ),
        pytest.param("https://as.example.com/", "https://as.example.com", id="root-slash-dropped"),
        pytest.param("http://localhost:8080/mcp", "http://localhost:8080/mcp", id="http-with-port"),
        pytest.param(RESOURCE + "?x=1", RESOURCE + "?x=1", id="query-kept"),
    ],
)
def test_normalize_resource(uri: str, expected: str) -> None:
    assert normalize_resource(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        pytest.param("/mcp", id="relative-path"),
        pytest.param("as.example.com/mcp", id="no-scheme"),
        pytest.param("https:///mcp", id="no-host"),
        pytest.param(RESOURCE + "#frag", id="fragment"),
        pytest.param(RESOURCE + "#", id="empty-fragment"),
        pytest.param("urn:example:mcp", id="urn"),
        pytest.param("ftp://as.example.com/mcp", id="ftp-scheme"),
        pytest.param("https://[::1/mcp", id="unbalanced-ipv6-bracket"),
    ],
)
def test_normalize_resource_refuses(uri: str) -> None:
    with pytest.raises(InvalidTarget):
        normalize_resource(uri)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        pytest.param([], RESOURCE, id="none-means-default"),
        pytest.param([OTHER_RESOURCE], OTHER_RESOURCE, id="second-known"),
        pytest.param(["HTTPS://AS.EXAMPLE.COM/mcp/"], RESOURCE, id="normalised-to-known"),
        pytest.param([RESOURCE, RESOURCE + "/"], RESOURCE, id="same-resource-twice"),
    ],
)
def test_select_resource(requested: list[str], expected: str) -> None:
    assert select_resource(requested, KNOWN, RESOURCE) == expected


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        pytest.param(
            [RESOURCE, OTHER_RESOURCE],
            "only one resource may be requested at a time",
            id="two-different",
        ),
        pytest.param(
            ["https://unknown.example.com/mcp"],
            "resource is not protected by this server",
            id="unknown",
        ),
        pytest.param(
            ["https://as.example.com/mcp/extra"],
            "resource is not protected by this server",
            id="sub-path-of-known",
        ),
    ],
)
def test_select_resource_refuses(requested: list[str], message: str) -> None:
    with pytest.raises(InvalidTarget) as caught:
        select_resource(requested, KNOWN, RESOURCE)
    assert caught.value.description == message
