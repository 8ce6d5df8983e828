"""Client ID Metadata Documents (CIMD, REQ-AS-23): which client ids are URLs, and who reads them.

A client id that is an ``https`` URL names a document the client publishes about itself. The
core never fetches it: ``Deps.client_documents`` does (the server wires in a fetcher that
refuses special-use addresses). The default knows no documents, so such a client is unknown.
"""

from __future__ import annotations

from typing import Protocol

from ostiary.core.client_cache import ClientSource
from ostiary.core.models import Client, ClientId

DOCUMENT_SCHEMES = ("https://", "http://")  # http only reaches a fetcher in loopback test mode


def is_document_url(client_id: str) -> bool:
    """True when ``client_id`` is a URL to a metadata document rather than an id we issued.

    Ids this server issues are URL-safe random strings (``token_urlsafe``), never a URL.
    """
    return client_id.startswith(DOCUMENT_SCHEMES)


class ClientDocumentSource(Protocol):
    """Reads the client a metadata document describes.

    Returns the client, or raises an ``OAuthError`` (``InvalidClient`` when the document
    cannot be fetched or is refused) whose description says why.
    """

    async def get_client(self, client_id: ClientId) -> Client | None: ...


class NoClientDocuments:
    """The default: no document is ever fetched, so a URL client id is an unknown client."""

    async def get_client(self, client_id: ClientId) -> Client | None:
        return None


class ClientLookup:
    """A ``ClientSource`` that sends URL client ids to the document source, others to ``source``."""

    def __init__(self, source: ClientSource, documents: ClientDocumentSource) -> None:
        self._source = source
        self._documents = documents

    async def get_client(self, client_id: ClientId) -> Client | None:
        if is_document_url(client_id):
            return await self._documents.get_client(client_id)
        return await self._source.get_client(client_id)
