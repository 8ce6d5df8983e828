"""The upstream MCP server of the gateway benchmark, over streamable HTTP or over stdio.

``python -m bench.mcp_upstream --port PORT`` serves the official SDK's ``MCPServer`` with one
tool, ``echo`` (the same tool as ``bench.mcp_server``), as a *stateful* streamable-HTTP app
with JSON responses at ``/mcp``: a client initializes once and then sends ``tools/call``
requests in its ``Mcp-Session-Id``, as a real client of an HTTP MCP server does. uvicorn is
configured like ``ostiary serve`` (one process, httptools, asyncio loop, access log off, socket
bound with ``IPPROTO_TCP``).

``python -m bench.mcp_upstream --stdio`` runs the same server on stdin/stdout (the SDK's stdio
transport), as ``ostiary gateway -- COMMAND`` and the benchmark's pipe driver start it.
"""

from __future__ import annotations

import argparse
import asyncio

from mcp.server.mcpserver import MCPServer


def echo_server() -> MCPServer:
    server = MCPServer("bench-upstream", log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Return ``text`` unchanged."""
        return text

    return server


async def serve_http(port: int) -> None:
    import uvicorn

    from bench.mcp_server import uvicorn_config
    from ostiary.cli.serve import listen

    sock = listen("127.0.0.1", port)
    config = uvicorn_config(echo_server().streamable_http_app(json_response=True))
    print(f"mcp upstream on 127.0.0.1:{port}", flush=True)
    await uvicorn.Server(config).serve(sockets=[sock])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mcp_upstream")
    parser.add_argument("--port", type=int, default=0, help="serve streamable HTTP here")
    parser.add_argument("--stdio", action="store_true", help="serve on stdin/stdout")
    args = parser.parse_args(argv)
    if args.stdio:
        asyncio.run(echo_server().run_stdio_async())
    elif args.port:
        asyncio.run(serve_http(args.port))
    else:
        parser.error("give --port or --stdio")


if __name__ == "__main__":
    main()
