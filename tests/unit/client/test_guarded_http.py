"""``guarded_client``: a server-deployed client's requests reach public https hosts only,
at the addresses that were checked (REQ-CL-25).

The names are resolved by an injected resolver; the one server that answers is a loopback TLS
server whose certificate names ``auth.example``, so a successful request proves both the
pinning (DNS alone could not find it) and that TLS still checks the host name.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest

from ostiary.client.guarded_http import GuardedTransport, guarded_client
from ostiary.net.addresses import Resolver
from tests.support.tls import self_signed


def resolving(table: dict[str, Sequence[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return list(table[host])

    return resolve


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    path = head.split(b" ")[1]
    if path == b"/moved":
        writer.write(b"HTTP/1.1 302 Found\r\nlocation: https://auth.example/elsewhere\r\n")
        writer.write(b"content-length: 0\r\n\r\n")
    elif path == b"/big":
        body = b"x" * 2_000_000
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
    else:
        body = b'{"issuer": "https://auth.example"}'
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        writer.write(b"content-length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[int, ssl.SSLContext]]:
    server_tls, client_tls = self_signed(tmp_path, names=["auth.example"])
    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_tls)
    yield server.sockets[0].getsockname()[1], client_tls
    server.close()


async def test_a_name_is_reached_only_at_the_checked_address_with_tls_verified(
    tls_server: tuple[int, ssl.SSLContext],
) -> None:
    port, client_tls = tls_server
    resolver = resolving({"auth.example": ["127.0.0.1"]})
    # loopback is allowed here only so a test server can answer; TLS checks "auth.example"
    async with guarded_client(
        resolver=resolver,
        ssl_context=client_tls,
        allow_loopback=True,
    ) as http:
        found = await http.get(
            f"https://auth.example:{port}/.well-known/oauth-authorization-server"
        )
        moved = await http.get(f"https://auth.example:{port}/moved")
        with pytest.raises(httpx.ReadError, match="too large"):
            await http.get(f"https://auth.example:{port}/big")
    assert found.json() == {"issuer": "https://auth.example"}
    assert moved.status_code == 302  # never followed


@pytest.mark.parametrize(
    ("url", "table", "reason"),
    [
        ("https://auth.example/x", {"auth.example": ["127.0.0.1"]}, "special-use"),
        ("https://auth.example/x", {"auth.example": ["10.0.0.5"]}, "special-use"),
        (
            "https://auth.example/x",
            {"auth.example": ["93.184.216.34", "192.168.1.1"]},
            "special-use",
        ),
        ("https://auth.example/x", {"auth.example": ["::ffff:169.254.169.254"]}, "special-use"),
        ("https://169.254.169.254/latest/meta-data", {}, "special-use"),
        ("https://[fd00::1]/x", {}, "special-use"),
        ("http://auth.example/x", {"auth.example": ["93.184.216.34"]}, "only https"),
        ("https://nowhere.example/x", {}, "could not be resolved"),
        ("https://user:pw@auth.example/x", {"auth.example": ["93.184.216.34"]}, "no usable host"),
    ],
)
async def test_inside_addresses_and_plain_http_are_refused_before_any_connection(
    url: str, table: dict[str, Sequence[str]], reason: str
) -> None:
    transport = GuardedTransport(resolver=resolving(table))
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(httpx.ConnectError, match=reason):
            await http.get(url)
