"""The address rules of the SSRF-safe fetcher and the cache lifetime of metadata documents."""

from __future__ import annotations

import ipaddress

import pytest

from ostiary.net.addresses import FetchRefused, check_addresses, is_special_use
from ostiary.server.client_documents import DEFAULT_CACHE, MAX_CACHE, MIN_CACHE, cache_lifetime

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "100.64.0.1", "100.127.255.254", "0.0.0.0", "224.0.0.1",  # noqa: S104
        "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1",
        "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::", "2002:a00:1::",
        "2001:db8::1", "64:ff9b::a00:1",
        "::ffff:1.1.1.1",  # IPv4-mapped addresses are not global: refused whatever they wrap
    ],
)  # fmt: skip
def test_special_use_addresses_are_refused(address: str) -> None:
    assert is_special_use(ipaddress.ip_address(address))
    with pytest.raises(FetchRefused, match="special-use"):
        check_addresses([address], allow_loopback=False, plain_http=False)


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_special_use(ipaddress.ip_address(address))
    check_addresses([address], allow_loopback=False, plain_http=False)


def test_one_bad_address_among_good_ones_refuses() -> None:
    with pytest.raises(FetchRefused, match="special-use"):
        check_addresses(["1.1.1.1", "10.0.0.1"], allow_loopback=False, plain_http=False)


def test_no_address_refuses() -> None:
    with pytest.raises(FetchRefused, match="no address"):
        check_addresses([], allow_loopback=False, plain_http=False)


def test_loopback_mode_allows_loopback_only() -> None:
    check_addresses(["127.0.0.1", "::1"], allow_loopback=True, plain_http=True)
    with pytest.raises(FetchRefused, match="special-use"):
        check_addresses(["127.0.0.1", "192.168.0.1"], allow_loopback=True, plain_http=False)
    with pytest.raises(FetchRefused, match="plain http is only allowed to a loopback host"):
        check_addresses(["1.1.1.1"], allow_loopback=True, plain_http=True)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        pytest.param({}, DEFAULT_CACHE, id="no-headers"),
        pytest.param({"cache-control": "max-age=600"}, 600, id="max-age"),
        pytest.param({"cache-control": "public, max-age=3600"}, 3600, id="public-max-age"),
        pytest.param({"cache-control": "max-age=5"}, MIN_CACHE, id="floor"),
        pytest.param({"cache-control": "max-age=9999999"}, MAX_CACHE, id="ceiling"),
        pytest.param({"cache-control": "max-age=0"}, 0, id="max-age-0"),
        pytest.param({"cache-control": "no-store"}, 0, id="no-store"),
        pytest.param({"cache-control": "no-cache, max-age=600"}, 0, id="no-cache"),
        pytest.param({"cache-control": "max-age=abc"}, 0, id="bad-max-age"),
        pytest.param({"cache-control": "max-age=600", "expires": "Thu, 01 Jan 1970 00:00:00 GMT"},
                     600, id="max-age-beats-expires"),
        pytest.param({"expires": "Fri, 15 Jan 2027 09:00:00 GMT",
                      "date": "Fri, 15 Jan 2027 08:00:00 GMT"}, 3600, id="expires-vs-date"),
        pytest.param({"expires": "Fri, 15 Jan 2027 08:10:00 GMT"}, 600, id="expires-vs-now"),
        pytest.param({"expires": "Thu, 01 Jan 1970 00:00:00 GMT"}, 0, id="expired"),
        pytest.param({"expires": "0"}, 0, id="bad-expires"),
    ],
)  # fmt: skip
def test_cache_lifetime(headers: dict[str, str], seconds: int) -> None:
    assert cache_lifetime(headers, NOW) == seconds
