"""``ostiary serve`` as a real process: the banner, and the admin account of the first start."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx
import pytest

from tests.support.process import RunningServer, ostiary_cli, running_server

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(issuer: str, username: str, password: str) -> httpx.Response:
    """GET the login page for its CSRF cookie and field, then POST the form."""
    with httpx.Client(base_url=issuer, timeout=10) as http:
        page = http.get("/login")
        assert page.status_code == 200
        token = CSRF.search(page.text)
        assert token is not None, page.text
        return http.post(
            "/login",
            data={
                "csrf_token": token.group(1),
                "next": "/",
                "username": username,
                "password": password,
            },
        )


def assert_banner(server: RunningServer) -> str:
    banner = server.output[0]
    assert banner.startswith("Ostiary authorization server\n")
    assert f"  issuer:    {server.issuer}\n" in banner
    assert f"  metadata:  {server.issuer}/.well-known/oauth-authorization-server\n" in banner
    assert f"  sign in:   {server.issuer}/login\n" in banner
    assert f"  resources: {server.issuer}/mcp\n" in banner
    return banner


def test_first_start_prints_an_admin_password_that_works_and_only_once(tmp_path: Path) -> None:
    with running_server(tmp_path) as first:
        banner = assert_banner(first)
        assert "First start: created user 'admin'" in banner
        password = first.admin_password
        assert len(password) >= 16
        assert banner.count(password) == 1

        login = sign_in(first.issuer, "admin", password)
        assert login.status_code == 303, login.text
        assert login.headers["location"] == "/"
        assert "ostiary_session=" in login.headers["set-cookie"]

        wrong = sign_in(first.issuer, "admin", password + "x")
        assert wrong.status_code == 400
        assert "Wrong username or password." in wrong.text

        metadata = httpx.get(f"{first.issuer}/.well-known/oauth-authorization-server").json()
        assert metadata["issuer"] == first.issuer

    with running_server(tmp_path) as second:
        banner = assert_banner(second)
        assert second.admin_password == ""
        assert "First start" not in banner
        assert password not in banner
        # The first password still signs in: nothing was reset.
        assert sign_in(second.issuer, "admin", password).status_code == 303

    listing = second.cli("user", "list")
    assert listing.returncode == 0, listing.stderr
    assert [line.split("\t")[0] for line in listing.stdout.splitlines()] == ["admin"]


def test_no_admin_is_created_when_a_user_exists(tmp_path: Path) -> None:
    added = ostiary_cli(
        "user", "add", "bob", "--password-stdin", data_dir=tmp_path, stdin="bob-password\n"
    )
    assert added.returncode == 0, added.stderr

    with running_server(tmp_path) as server:
        banner = assert_banner(server)
        assert "First start" not in banner
        assert server.admin_password == ""
        assert sign_in(server.issuer, "bob", "bob-password").status_code == 303
        listing = server.cli("user", "list")
        assert [line.split("\t")[0] for line in listing.stdout.splitlines()] == ["bob"]


def test_listening_socket_is_tcp_so_responses_are_not_delayed() -> None:
    """asyncio sets TCP_NODELAY only when proto is IPPROTO_TCP; without it each keep-alive
    response waited ~40 ms for a delayed ACK."""
    from ostiary.cli.serve import listen

    sock = listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_busy_port_is_one_clear_error() -> None:
    from ostiary.cli.errors import CliError
    from ostiary.cli.serve import listen

    first = listen("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        first.listen()
        with pytest.raises(CliError, match=f"cannot listen on 127.0.0.1:{port}"):
            listen("127.0.0.1", port)
    finally:
        first.close()
