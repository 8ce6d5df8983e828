"""The floor: the cheapest token-endpoint-shaped server this stack can be.

A plain Starlette app with one ``POST /token`` that reads the body and answers a fixed small
JSON, served by uvicorn with the settings of ``ostiary serve`` (``ostiary.cli.serve``): one
process, one worker, ``access_log`` off, no proxy headers, no ``Server`` header,
``http="auto"`` (httptools when installed), started the same way, by
``asyncio.run(server.serve(...))``, which runs on the standard library's event loop, not
uvloop (uvicorn picks its loop only in ``Server.run``). ``--loop uvloop`` serves it on uvloop
instead, to show what that choice is worth.

One deliberate difference: ``ostiary serve`` binds the listening socket itself and hands it
to uvicorn; the floor lets uvicorn bind it, so accepted connections get ``TCP_NODELAY`` as
asyncio intends (see ``bench/serve_variant.py`` for why that matters).

``python -m bench.floor --port PORT [--loop asyncio|uvloop]``
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ANSWER = {"access_token": "floor", "token_type": "Bearer", "expires_in": 3600}


async def token(request: Request) -> Response:
    await request.body()
    return JSONResponse(ANSWER, headers={"Cache-Control": "no-store"})


def build_app() -> Starlette:
    return Starlette(routes=[Route("/token", token, methods=["POST"])])


def config(port: int, host: str = "127.0.0.1") -> uvicorn.Config:
    """The ``uvicorn.Config`` of ``ostiary serve`` at ``--log-level warning`` (plus the
    address, which ``serve`` passes as a bound socket instead)."""
    return uvicorn.Config(
        build_app(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        lifespan="on",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args(argv)
    server = uvicorn.Server(config(args.port))
    print(f"floor listening on 127.0.0.1:{args.port} ({args.loop} loop)", flush=True)
    if args.loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(server.serve())
    else:
        asyncio.run(server.serve())


if __name__ == "__main__":
    main()
