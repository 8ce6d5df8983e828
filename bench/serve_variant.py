"""Experiments only: the real ``ostiary`` command line with one or two changes applied.

``python -m bench.serve_variant serve ...`` runs the unchanged CLI after applying the changes
named in ``OSTIARY_BENCH_PATCHES`` (comma-separated), so ``bench.token_endpoint --patch ...``
can measure a proposed ``src/`` change without making it:

* ``nodelay``: ``ostiary serve`` binds its listening socket itself (``cli.serve.listen``) as
  ``socket.socket(family, SOCK_STREAM)``, whose ``proto`` is 0. asyncio sets ``TCP_NODELAY``
  on accepted connections only when the listener's ``proto`` is ``IPPROTO_TCP``
  (``asyncio.base_events._set_nodelay``), so every connection keeps Nagle's algorithm, and
  uvicorn's two writes per response (head, then body) meet the client's delayed ACK: about
  40 ms per keep-alive request. The patch re-wraps the bound socket so its ``proto`` is read
  back from the kernel (``IPPROTO_TCP``); the proposed fix is to pass
  ``socket.IPPROTO_TCP`` when creating it.
* ``uvloop``: ``serve`` starts uvicorn with ``asyncio.run``, i.e. on the standard library loop
  whatever is installed (uvicorn chooses its loop only in ``Server.run``). The patch installs
  uvloop's event-loop policy first.
* ``fastjwt``: ``JwtSigner.sign`` signs ES256 with ``cryptography`` directly (header encoded
  once, raw r||s signature) instead of through joserfc. Same tokens, byte for byte in form.



These reach into ``src/`` internals that may change; only ``nodelay`` and ``uvloop`` touch
nothing but the CLI module.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

import uvloop

import ostiary.cli.serve as serve_module
from ostiary.cli.main import main

PATCHES = "OSTIARY_BENCH_PATCHES"
KNOWN = ("nodelay", "uvloop", "fastjwt")
CLIENT_TTL = 5.0


def apply(patches: set[str]) -> None:
    unknown = patches - set(KNOWN)
    if unknown:
        raise SystemExit(f"unknown patches: {', '.join(sorted(unknown))}")
    if "nodelay" in patches:
        shipped = serve_module.listen

        def listen(host: str, port: int) -> socket.socket:
            # fileno= makes Python read family, type and proto back: proto is IPPROTO_TCP.
            return socket.socket(fileno=shipped(host, port).detach())

        serve_module.listen = listen
    if "uvloop" in patches:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if "fastjwt" in patches:
        _fast_jwt()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _fast_jwt() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from ostiary.crypto.jwt import JwtSigner

    algorithm = ec.ECDSA(hashes.SHA256())

    def sign(self: JwtSigner, claims: dict[str, Any]) -> str:
        state: Any = self
        header = _b64(json.dumps(state._header, separators=(",", ":")).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = header + b"." + payload
        r, s = decode_dss_signature(state._key.key.private_key.sign(signing_input, algorithm))
        signature = _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return (signing_input + b"." + signature).decode()

    JwtSigner.sign = sign  # type: ignore[method-assign]


if __name__ == "__main__":
    apply({p for p in os.environ.get(PATCHES, "").split(",") if p})
    main()
