"""Client ID Metadata Documents over real HTTP: a document server on loopback (REQ-AS-23/24).

The fetcher runs for real against ``tests.support.documents``; loopback is reachable only in
the test mode (``allow_loopback``). With the mode off, a listening socket proves that no
connection reaches a loopback address at all.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from ostiary.core.clock import FrozenClock
from ostiary.core.errors import InvalidClient, InvalidRequest
from ostiary.core.models import AuthMethod, ClientId
from ostiary.server.client_documents import MAX_DOCUMENT_BYTES, MetadataDocumentClients
from ostiary.server.safe_fetch import FetchRefused, SafeFetcher
from tests.support.documents import DocumentServer, document_server

from ..helpers import (
    ISSUER,
    LOOPBACK_REDIRECT,
    RESOURCE,
    Server,
    pkce_pair,
    query_of,
    running,
    single,
)

SUPPORTED = ("tools:read", "tools:execute")


def client_document(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "client_id": url,
        "client_name": "Published MCP Client",
        "redirect_uris": [LOOPBACK_REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        **changes,
    }


@pytest.fixture
def docs() -> Iterator[DocumentServer]:
    with document_server() as server:
        yield server


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def clients(clock: FrozenClock) -> MetadataDocumentClients:
    return MetadataDocumentClients(SafeFetcher(allow_loopback=True), clock, SUPPORTED)


def publish(docs: DocumentServer, path: str, **options: Any) -> str:
    url = docs.url(path)
    return docs.publish(path, client_document(url), **options)


# fetching and caching


async def test_document_becomes_a_public_client(
    docs: DocumentServer, clients: MetadataDocumentClients
) -> None:
    url = publish(docs, "/client.json")
    client = await clients.get_client(ClientId(url))
    assert client is not None
    assert (client.client_id, client.client_name) == (url, "Published MCP Client")
    assert client.token_endpoint_auth_method is AuthMethod.NONE
    assert client.redirect_uris == (LOOPBACK_REDIRECT,)


async def test_cached_for_max_age_then_fetched_again(
    docs: DocumentServer, clients: MetadataDocumentClients, clock: FrozenClock
) -> None:
    url = publish(docs, "/c.json", headers={"Cache-Control": "public, max-age=600"})
    for _ in range(3):
        assert await clients.get_client(ClientId(url)) is not None
    assert docs.count("/c.json") == 1
    clock.advance(599)
    await clients.get_client(ClientId(url))
    assert docs.count("/c.json") == 1
    clock.advance(2)
    await clients.get_client(ClientId(url))
    assert docs.count("/c.json") == 2


async def test_max_age_below_the_floor_is_kept_a_minute(
    docs: DocumentServer, clients: MetadataDocumentClients, clock: FrozenClock
) -> None:
    url = publish(docs, "/c.json", headers={"Cache-Control": "max-age=1"})
    await clients.get_client(ClientId(url))
    clock.advance(59)
    await clients.get_client(ClientId(url))
    assert docs.count("/c.json") == 1
    clock.advance(1)
    await clients.get_client(ClientId(url))
    assert docs.count("/c.json") == 2


@pytest.mark.parametrize("header", ["no-store", "no-cache", "max-age=0"])
async def test_no_store_is_fetched_every_time(
    docs: DocumentServer, clients: MetadataDocumentClients, header: str
) -> None:
    url = publish(docs, "/c.json", headers={"Cache-Control": header})
    for _ in range(3):
        assert await clients.get_client(ClientId(url)) is not None
    assert docs.count("/c.json") == 3


async def test_a_changed_document_is_seen_after_its_lifetime(
    docs: DocumentServer, clients: MetadataDocumentClients, clock: FrozenClock
) -> None:
    url = publish(docs, "/c.json", headers={"Cache-Control": "max-age=120"})
    await clients.get_client(ClientId(url))
    docs.publish("/c.json", client_document(url, client_name="Renamed"))
    cached = await clients.get_client(ClientId(url))
    assert cached is not None and cached.client_name == "Published MCP Client"
    clock.advance(121)
    fresh = await clients.get_client(ClientId(url))
    assert fresh is not None and fresh.client_name == "Renamed"


async def refused(clients: MetadataDocumentClients, url: str) -> str:
    with pytest.raises(InvalidClient) as caught:
        await clients.get_client(ClientId(url))
    assert caught.value.description is not None
    return caught.value.description


FETCH_FAILED = "the client metadata document could not be fetched: "


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"status": 302, "headers": {"Location": "/elsewhere.json"}},
                     FETCH_FAILED + "the server answered 302, not 200", id="redirect"),
        pytest.param({"status": 404}, FETCH_FAILED + "the server answered 404, not 200",
                     id="not-found"),
        pytest.param({"status": 500}, FETCH_FAILED + "the server answered 500, not 200",
                     id="server-error"),
        pytest.param({"body": b"{" + b" " * MAX_DOCUMENT_BYTES + b"}"},
                     FETCH_FAILED + "the document exceeds 5120 bytes", id="oversize"),
        pytest.param({"headers": {"Content-Type": "text/html"}},
                     FETCH_FAILED + "the answer is not application/json", id="html"),
        pytest.param({"body": b"<html>not json</html>"},
                     "the client metadata document is not JSON", id="not-json"),
        pytest.param({"body": b'{"client_id": "https://other.example/c.json"}'},
                     "client_id in the metadata document does not match its URL", id="mismatch"),
        pytest.param({"body": b"[]"}, "the client metadata document was refused: the client "
                     "metadata document must be a JSON object", id="array"),
    ],
)  # fmt: skip
async def test_refused_answers_are_never_cached(
    docs: DocumentServer, clients: MetadataDocumentClients, options: dict[str, Any], message: str
) -> None:
    url = publish(docs, "/c.json", **options)
    docs.publish("/elsewhere.json", client_document(url))
    assert await refused(clients, url) == message
    assert await refused(clients, url) == message
    assert docs.count("/c.json") == 2
    assert docs.count("/elsewhere.json") == 0  # the redirect was not followed


async def test_secret_in_document_is_refused(
    docs: DocumentServer, clients: MetadataDocumentClients
) -> None:
    url = docs.url("/c.json")
    docs.publish("/c.json", client_document(url, token_endpoint_auth_method="client_secret_basic"))
    assert await refused(clients, url) == (
        "the client metadata document was refused: token_endpoint_auth_method must be none or "
        "private_key_jwt in a metadata document"
    )


async def test_malformed_url_is_not_fetched(
    docs: DocumentServer, clients: MetadataDocumentClients
) -> None:
    with pytest.raises(InvalidRequest, match="path without"):
        await clients.get_client(ClientId(docs.url("/a/../c.json")))
    assert sum(docs.hits.values()) == 0


async def test_connection_goes_to_the_checked_address(docs: DocumentServer) -> None:
    """The host name is resolved once, by our resolver; the connection dials that address.

    ``docs.invalid`` resolves nowhere else, so the fetch succeeding proves the pinning.
    """
    asked: list[str] = []

    async def resolver(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return ["127.0.0.1"]

    fetcher = SafeFetcher(allow_loopback=True, resolver=resolver)
    docs.publish("/pinned.json", {"ok": True})
    fetched = await fetcher.get(f"http://docs.invalid:{docs.port}/pinned.json", max_bytes=100)
    assert json.loads(fetched.body) == {"ok": True}
    assert asked == ["docs.invalid"]
    assert docs.count("/pinned.json") == 1


# SSRF: with the test mode off, nothing reaches loopback


@dataclass
class Listener:
    port: int
    accepted: list[object]


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A listening socket on 127.0.0.1 that counts every connection it is offered."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.05)
    found = Listener(int(sock.getsockname()[1]), [])
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            found.accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


def probe_is_counted(listener: Listener) -> None:
    """The listener does count a real connection (so zero below means none was made)."""
    with socket.create_connection(("127.0.0.1", listener.port), timeout=2):
        pass


async def to_loopback(host: str, port: int) -> Sequence[str]:
    return ["127.0.0.1"]


async def rebinding(host: str, port: int) -> Sequence[str]:
    return ["93.184.215.14", "127.0.0.1"]


@pytest.mark.parametrize(
    ("url", "resolver", "message"),
    [
        ("https://127.0.0.1:{port}/client.json", None, "special-use address"),
        ("https://[::ffff:127.0.0.1]:{port}/client.json", None, "special-use address"),
        ("https://localhost:{port}/client.json", None, "special-use address"),
        ("https://mcp-client.invalid:{port}/client.json", to_loopback, "special-use address"),
        ("https://mixed.invalid:{port}/client.json", rebinding, "special-use address"),
        ("http://127.0.0.1:{port}/client.json", None, "only https URLs are fetched"),
    ],
)
async def test_no_connection_reaches_loopback_when_the_option_is_off(
    listener: Listener, url: str, resolver: Any, message: str
) -> None:
    clients = MetadataDocumentClients(SafeFetcher(resolver=resolver), FrozenClock(), SUPPORTED)
    with pytest.raises(InvalidClient, match=message):
        await clients.get_client(ClientId(url.format(port=listener.port)))
    assert listener.accepted == []
    probe_is_counted(listener)
    for _ in range(100):
        if listener.accepted:
            break
        await asyncio.sleep(0.01)
    assert len(listener.accepted) == 1


async def test_private_addresses_are_refused_before_connecting() -> None:
    async def private(host: str, port: int) -> Sequence[str]:
        return ["10.0.0.7"]

    with pytest.raises(FetchRefused, match="special-use"):
        await SafeFetcher(resolver=private).get("https://intranet.invalid/c.json", max_bytes=10)


# through the server


@pytest.fixture
async def cimd_server() -> AsyncIterator[Server]:
    async with running(ISSUER, RESOURCE, fetcher=SafeFetcher(allow_loopback=True)) as srv:
        yield srv


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


async def test_full_flow_with_a_url_client_id(cimd_server: Server, docs: DocumentServer) -> None:
    url = publish(docs, "/client.json", headers={"Cache-Control": "max-age=300"})
    verifier, challenge = pkce_pair()
    params = cimd_server.authorize_params(challenge, client_id=url)
    first = await cimd_server.authorize(params)
    login = await cimd_server.login(single(query_of(first.headers["location"]), "next"))
    assert login.status_code == 303
    consent = await cimd_server.authorize(params)
    assert consent.status_code == 200, consent.text
    assert 'Published by <strong class="host">127.0.0.1</strong>' in consent.text
    assert "Published MCP Client" in consent.text
    assert "This application runs on your own computer" in consent.text  # loopback redirect
    code, _ = await cimd_server.authorization_code(challenge, client_id=url)
    response = await cimd_server.redeem(code, verifier, client_id=url)
    assert response.status_code == 200, response.text
    body = response.json()
    assert claims(body["access_token"])["client_id"] == url
    (grant,) = await cimd_server.storage.list_grants()
    assert grant.client_id == url
    refreshed = await cimd_server.refresh(body["refresh_token"], client_id=url)
    assert refreshed.status_code == 200, refreshed.text
    assert docs.count("/client.json") == 1  # cached for its max-age across every step


async def test_authorize_with_a_bad_document_is_an_error_page(
    cimd_server: Server, docs: DocumentServer
) -> None:
    url = docs.url("/c.json")
    docs.publish("/c.json", client_document("https://elsewhere.example/c.json"))
    _, challenge = pkce_pair()
    response = await cimd_server.authorize(cimd_server.authorize_params(challenge, client_id=url))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "client_id in the metadata document does not match its URL" in response.text
    assert "invalid_client" in response.text


async def test_unlisted_redirect_uri_is_an_error_page(
    cimd_server: Server, docs: DocumentServer
) -> None:
    url = publish(docs, "/c.json")
    _, challenge = pkce_pair()
    params = cimd_server.authorize_params(
        challenge, client_id=url, redirect_uri="http://127.0.0.1:9/other"
    )
    response = await cimd_server.authorize(params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "redirect_uri is not registered for this client" in response.text


async def test_default_server_refuses_loopback_documents(
    server: Server, listener: Listener
) -> None:
    url = f"https://127.0.0.1:{listener.port}/client.json"
    _, challenge = pkce_pair()
    page = await server.authorize(server.authorize_params(challenge, client_id=url))
    assert page.status_code == 400
    assert "could not be fetched: the host resolves to a special-use address" in page.text
    token = await server.token({"grant_type": "authorization_code", "code": "x",
                                "code_verifier": "y" * 43, "client_id": url})  # fmt: skip
    assert token.status_code == 401
    assert token.json()["error"] == "invalid_client"
    assert listener.accepted == []


async def test_metadata_advertises_cimd(server: Server) -> None:
    metadata = (await server.browser.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["client_id_metadata_document_supported"] is True
