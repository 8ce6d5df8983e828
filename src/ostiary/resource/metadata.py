"""Protected-resource metadata (RFC 9728) for one MCP endpoint, and where it is served.

For ``https://h/mcp`` the documents are:

- ``/.well-known/oauth-protected-resource/mcp``: ``resource`` is exactly ``https://h/mcp``;
  every challenge points here (RFC 9728 §3.3, checklist §6 note 1);
- ``/.well-known/oauth-protected-resource`` (the root, probed second by 2025-11-25 clients):
  ``resource`` is the origin ``https://h``, as the conformance mock does (REQ-RS-3); a token
  verifier should accept both identifiers as ``aud`` (``identifiers``);
- ``/.well-known/oauth-resource-server{path}``: an alias of each, for clients that followed
  documentation naming that path. Standard clients never ask for it.

When the endpoint is at the root (``https://h``), the root document is the path document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ostiary.core.resources import normalize_resource

PRM = "/.well-known/oauth-protected-resource"
ALIAS = "/.well-known/oauth-resource-server"


@dataclass(frozen=True, slots=True)
class ProtectedResource:
    """The MCP endpoint's identity: its URL, who issues its tokens, what it is called."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...]
    resource_name: str = "MCP server"

    @classmethod
    def create(
        cls,
        resource: str,
        authorization_servers: Sequence[str],
        scopes_supported: Iterable[str],
        resource_name: str = "MCP server",
    ) -> ProtectedResource:
        if not authorization_servers:
            raise ValueError("at least one authorization server is required")
        return cls(
            normalize_resource(resource),
            tuple(authorization_servers),
            tuple(scopes_supported),
            resource_name,
        )

    @property
    def origin(self) -> str:
        parts = urlsplit(self.resource)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def path(self) -> str:
        return urlsplit(self.resource).path

    @property
    def metadata_url(self) -> str:
        """The path-inserted document every challenge names."""
        return self.origin + PRM + self.path

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Every ``resource`` value a document advertises: the accepted audiences."""
        return tuple(dict.fromkeys((self.resource, self.origin)))

    def document(self, resource: str) -> dict[str, object]:
        doc: dict[str, object] = {
            "resource": resource,
            "authorization_servers": list(self.authorization_servers),
            "bearer_methods_supported": ["header"],
            "resource_name": self.resource_name,
        }
        if self.scopes_supported:
            doc["scopes_supported"] = list(self.scopes_supported)
        return doc

    def documents(self) -> dict[str, bytes]:
        """Serving path → JSON body, for every path this resource answers."""
        served = {PRM: self.origin, PRM + self.path: self.resource}
        served |= {ALIAS + p.removeprefix(PRM): r for p, r in served.items()}
        return {path: json.dumps(self.document(r)).encode() for path, r in served.items()}
