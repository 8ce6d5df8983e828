"""Play the browser for the conformance suite: sign in and approve, then hit the callback.

Usage: ``python scripts/conformance_approve.py AUTHORIZATION_URL`` with ``OSTIARY_APPROVE_USER``
and ``OSTIARY_APPROVE_PASSWORD`` set. Follows the server's own redirects, submits the login
and consent forms as a person would (CSRF token included), and finally requests the
client's redirect URI so the suite's callback listener receives the code.
"""

from __future__ import annotations

import os
import re
import sys
from html import unescape
from urllib.parse import urljoin, urlsplit

import httpx


def hidden_fields(html: str) -> dict[str, str]:
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    return {name: unescape(value) for name, value in fields}


def scopes(html: str) -> list[str]:
    return [unescape(v) for v in re.findall(r'name="scope" value="([^"]+)"', html)]


def form_action(html: str, base: str) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', html)
    if match is None:
        raise SystemExit(f"no form on {base}")
    return urljoin(base, unescape(match.group(1)))


def approve(url: str, username: str, password: str) -> str:
    """Return the final redirect to the client, after login and consent."""
    origin = urlsplit(url).netloc
    with httpx.Client(follow_redirects=False, timeout=15) as http:
        response = http.get(url)
        for _ in range(10):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if urlsplit(target).netloc != origin:
                    return target
                response = http.get(target)
            elif 'name="password"' in response.text:
                form = {**hidden_fields(response.text), "username": username, "password": password}
                response = http.post(form_action(response.text, str(response.url)), data=form)
            elif 'name="decision"' in response.text:
                data: dict[str, str | list[str]] = {
                    **hidden_fields(response.text),
                    "decision": "approve",
                    "scope": scopes(response.text),
                }
                response = http.post(form_action(response.text, str(response.url)), data=data)
            else:
                raise SystemExit(f"unexpected page {response.status_code} at {response.url}")
    raise SystemExit("too many steps")


def main() -> None:
    target = approve(
        sys.argv[-1], os.environ["OSTIARY_APPROVE_USER"], os.environ["OSTIARY_APPROVE_PASSWORD"]
    )
    print(f"callback: {target.split('?')[0]}")
    httpx.get(target, timeout=15)


if __name__ == "__main__":
    main()
