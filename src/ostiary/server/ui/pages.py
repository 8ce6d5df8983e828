"""HTML rendering: Jinja2 templates an operator can override, with strict security headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

# The pages need no script and nothing from elsewhere; they may never be framed (SEC-2).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Pages:
    """Renders a named template; templates in ``override_dir`` win over the built-in ones."""

    def __init__(self, override_dir: Path | None, static_url: str) -> None:
        loaders: list[Any] = [PackageLoader("ostiary.server.ui", "templates")]
        if override_dir is not None:
            loaders.insert(0, FileSystemLoader(override_dir))
        self._env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(default=True),
            auto_reload=False,
        )
        self._static_url = static_url

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self._env.get_template(name).render(static_url=self._static_url, **context)
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
