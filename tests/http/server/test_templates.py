"""An operator's template folder overrides the built-in pages by name, and only those."""

from __future__ import annotations

from pathlib import Path

from ..helpers import ISSUER, RESOURCE, running


async def test_operator_templates_replace_pages_by_name(tmp_path: Path) -> None:
    (tmp_path / "login.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Welcome to ACME</h1>'
        '<form method="post" action="{{ action }}">'
        '<input type="hidden" name="csrf_token" value="{{ csrf_token }}"></form>{% endblock %}'
    )
    async with running(ISSUER, RESOURCE, templates_dir=tmp_path) as server:
        login = await server.browser.get("/login")
        home = await server.browser.get("/")
    assert login.status_code == 200
    assert "Welcome to ACME" in login.text
    assert 'name="csrf_token" value="' in login.text  # the context still reaches the template
    assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
    assert "Authorization server" in home.text  # pages not overridden stay built in
