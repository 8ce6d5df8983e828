"""The MCP app of the MCP benchmark, served alone or behind ``ProtectedMCP``.

``python -m bench.mcp_server --port PORT --mode plain|protected [--data-dir D --database URL]``

The app: an ``MCPServer`` (the official SDK) with one tool, ``echo``, as a stateless
streamable-HTTP app with JSON responses, so every ``tools/call`` is one independent POST.
``--mode protected`` wraps that same app in ``ProtectedMCP`` with a ``LocalVerifier`` over the
installation's SQLite store and key ring (``build_context`` as ``ostiary serve`` builds it), for
the resource ``http://127.0.0.1:PORT/mcp``. uvicorn is configured like ``ostiary serve`` (one
process, ``http="auto"`` i.e. httptools, standard asyncio loop, access log off, no server
header), and the listening socket is bound with ``IPPROTO_TCP`` as ``serve`` binds it.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp

from ostiary.cli.serve import listen
from ostiary.core.config import ServerConfig
from ostiary.crypto.server_secret import ServerKeys, load_or_create_secret
from ostiary.resource.middleware import ProtectedMCP
from ostiary.resource.verifiers.local import LocalVerifier
from ostiary.server.context import build_context
from ostiary.storage.sql import open_storage


def mcp_app() -> ASGIApp:
    server = MCPServer("bench", log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Return ``text`` unchanged."""
        return text

    return server.streamable_http_app(stateless_http=True, json_response=True)


def uvicorn_config(app: ASGIApp) -> uvicorn.Config:
    """uvicorn as ``ostiary serve`` runs it, quiet."""
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        lifespan="on",
    )


def server_config(port: int) -> ServerConfig:
    issuer = f"http://127.0.0.1:{port}"
    return ServerConfig(issuer=issuer, resources=(f"{issuer}/mcp",))


async def serve(args: argparse.Namespace) -> None:
    sock = listen("127.0.0.1", args.port)
    app = mcp_app()
    storage = None
    if args.mode == "protected":
        keys = ServerKeys.from_secret(load_or_create_secret(Path(args.data_dir) / "ostiary.secret"))
        storage = await open_storage(args.database)
        config = server_config(args.port)
        ctx = await build_context(config, storage, keys)
        app = ProtectedMCP(
            app,
            verifier=LocalVerifier.for_server(ctx),
            resource=config.default_resource,
            authorization_servers=[config.issuer],
        )
    uv = uvicorn_config(app)
    print(f"mcp bench server ({args.mode}) on 127.0.0.1:{args.port}", flush=True)
    try:
        await uvicorn.Server(uv).serve(sockets=[sock])
    finally:
        if storage is not None:
            await storage.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mcp_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["plain", "protected"], default="plain")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--database", default="")
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
