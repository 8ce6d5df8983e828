"""Client ID Metadata Documents against a real ``ostiary serve`` (REQ-AS-23, REQ-AS-25).

The client is not registered at all: its ``client_id`` is the URL of a document served by a
real HTTP server on loopback, which the server may fetch only because it runs in the
test-only loopback mode (``OSTIARY_ALLOW_LOOPBACK_METADATA`` / ``--allow-loopback-metadata``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

import httpx
from tests.support.documents import document_server
from tests.support.flows import (
    CallbackListener,
    Pkce,
    ServerFactory,
    authorization_url,
    authorize_with_httpx,
    exchange_code,
    only_form,
    query_of,
    refresh_form,
    verified_claims,
)
from tests.support.process import running_server

WARNING = "WARNING: --allow-loopback-metadata is on"


def test_url_client_id_runs_the_whole_flow(
    start_server: ServerFactory, callback: CallbackListener
) -> None:
    with (
        document_server() as docs,
        start_server(OSTIARY_ALLOW_LOOPBACK_METADATA="1") as server,
        httpx.Client(timeout=10) as http,
    ):
        assert WARNING in server.output[0]
        client_id = docs.publish(
            "/mcp-client.json",
            {
                "client_id": docs.url("/mcp-client.json"),
                "client_name": "Published Desktop Client",
                "redirect_uris": [callback.redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
            },
            headers={"Cache-Control": "max-age=3600"},
        )
        metadata = http.get(f"{server.issuer}/.well-known/oauth-authorization-server").json()
        assert metadata["client_id_metadata_document_supported"] is True

        pkce = Pkce.new()
        url = authorization_url(
            server.issuer,
            client_id=client_id,
            redirect_uri=callback.redirect_uri,
            pkce=pkce,
            state="cimd",
        )
        location = authorize_with_httpx(http, url, username="admin", password=server.admin_password)
        answer = query_of(location)
        assert answer["state"] == "cimd" and answer["iss"] == server.issuer

        tokens = exchange_code(
            http,
            server.issuer,
            code=answer["code"],
            pkce=pkce,
            client_id=client_id,
            redirect_uri=callback.redirect_uri,
        )
        assert tokens.status_code == 200, tokens.text
        claims = verified_claims(http, server.issuer, tokens.json()["access_token"])
        assert claims["client_id"] == client_id

        refreshed = http.post(
            f"{server.issuer}/token", data=refresh_form(tokens.json()["refresh_token"], client_id)
        )
        assert refreshed.status_code == 200, refreshed.text
        assert docs.count("/mcp-client.json") == 1  # one fetch, cached for its max-age

        grants = server.cli("grant", "list", "--all").stdout
        assert client_id in grants


def test_consent_page_names_the_publisher(tmp_path: Path, callback: CallbackListener) -> None:
    with (
        document_server() as docs,
        running_server(tmp_path / "data", None, "--allow-loopback-metadata") as server,
        httpx.Client(timeout=10) as http,
    ):
        assert WARNING in server.output[0]
        client_id = docs.publish(
            "/c.json",
            {
                "client_id": docs.url("/c.json"),
                "client_name": "Published Client",
                "redirect_uris": [callback.redirect_uri],
            },
        )
        url = authorization_url(
            server.issuer,
            client_id=client_id,
            redirect_uri=callback.redirect_uri,
            pkce=Pkce.new(),
            state="s",
        )
        first = http.get(url)
        assert first.status_code == 302
        login_url = urljoin(url, first.headers["location"])
        form = only_form(http.get(login_url).text)
        data = dict(form.fields) | {"username": "admin", "password": server.admin_password}
        signed_in = http.post(urljoin(login_url, form.action), data=data)
        assert signed_in.status_code == 303, signed_in.text
        consent = http.get(urljoin(login_url, signed_in.headers["location"]))
        assert consent.status_code == 200, consent.text
        assert 'Published by <strong class="host">127.0.0.1</strong>' in consent.text
        assert "Published Client" in consent.text
        assert "This application runs on your own computer" in consent.text


def test_without_the_option_url_clients_on_loopback_are_refused(
    tmp_path: Path, callback: CallbackListener
) -> None:
    with (
        document_server() as docs,
        running_server(tmp_path / "data") as server,
        httpx.Client(timeout=10) as http,
    ):
        assert WARNING not in server.output[0]
        client_id = docs.publish(
            "/c.json",
            {
                "client_id": docs.url("/c.json"),
                "client_name": "Published Client",
                "redirect_uris": [callback.redirect_uri],
            },
        )
        url = authorization_url(
            server.issuer,
            client_id=client_id,
            redirect_uri=callback.redirect_uri,
            pkce=Pkce.new(),
            state="s",
        )
        page = http.get(url)
        assert page.status_code == 400
        assert "only https URLs are fetched" in page.text
        assert docs.count("/c.json") == 0
