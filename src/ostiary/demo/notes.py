"""The demo notes server ``ostiary serve`` protects at ``/mcp``: official SDK, in-memory store.

Scopes (the policy's defaults plus the overrides declared next to the tools):

- ``list_notes``, ``read_note``: ``tools/call`` → ``tools:execute`` (which implies ``tools:read``,
  enough for ``tools/list``);
- ``add_note``, ``delete_note``: also ``resources:write`` (they change the store);
- ``note://{id}``: ``resources:read``; the ``summarize`` prompt: ``prompts:read``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp

from ostiary import __version__
from ostiary.resource.mcp_sdk import caller
from ostiary.resource.policy import ScopePolicy

WRITE = {"resources:write"}


@dataclass
class Note:
    id: int
    title: str
    body: str
    author: str


class Notes:
    """The store: notes by id, in memory, gone on restart."""

    def __init__(self) -> None:
        self.notes: dict[int, Note] = {}
        self._ids = itertools.count(1)

    def add(self, title: str, body: str, author: str) -> Note:
        note = Note(next(self._ids), title, body, author)
        self.notes[note.id] = note
        return note

    def get(self, note_id: int) -> Note:
        try:
            return self.notes[note_id]
        except KeyError:
            raise ValueError(f"no note {note_id}") from None


def build(notes: Notes | None = None) -> tuple[MCPServer, ScopePolicy]:
    """A fresh notes server and the scope policy that goes with it."""
    store = notes if notes is not None else Notes()
    server = MCPServer(
        "Ostiary notes",
        version=__version__,
        instructions="A small notes store protected by Ostiary.",
    )
    policy = ScopePolicy()

    @server.tool()
    def list_notes() -> list[dict[str, object]]:
        """Every note: id, title and author."""
        return [{"id": n.id, "title": n.title, "author": n.author} for n in store.notes.values()]

    @server.tool()
    def read_note(note_id: int) -> str:
        """The body of one note."""
        return store.get(note_id).body

    policy.tool("add_note", requires=WRITE)

    @server.tool()
    def add_note(title: str, body: str, ctx: Context) -> int:
        """Add a note as the calling user; returns its id."""
        return store.add(title, body, caller(ctx).subject).id

    policy.tool("delete_note", requires=WRITE)

    @server.tool()
    def delete_note(note_id: int) -> str:
        """Delete one note."""
        store.get(note_id)
        del store.notes[note_id]
        return f"deleted note {note_id}"

    @server.resource("note://{note_id}", mime_type="text/plain")
    def note_resource(note_id: str) -> str:
        """One note as text."""
        note = store.get(int(note_id))
        return f"{note.title}\n\n{note.body}"

    @server.prompt()
    def summarize(note_id: str) -> str:
        """Ask the model to summarize a note."""
        note = store.get(int(note_id))
        return f"Summarize this note in one sentence:\n\n{note.title}\n{note.body}"

    return server, policy


def streamable_app(server: MCPServer) -> ASGIApp:
    """The SDK's streamable-HTTP app at ``/mcp``; its own Host check is off because
    ``ProtectedMCP`` validates ``Origin`` and the server may sit behind any public host name."""
    return server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
