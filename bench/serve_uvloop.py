"""Experiment only: the real ``ostiary`` command line, with uvloop as the asyncio loop.

``ostiary serve`` starts uvicorn by ``asyncio.run(server.serve())``, which always runs on the
standard library loop. This shim installs uvloop's event-loop policy first and then runs the
unchanged CLI, so ``python -m bench.token_endpoint --server-loop uvloop`` can measure what
starting uvicorn on uvloop would gain, without touching ``src/``.
"""

from __future__ import annotations

import asyncio

import uvloop

from ostiary.cli.main import main

if __name__ == "__main__":
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    main()
