"""MCP endpoint benchmark: ``tools/call`` through ``ProtectedMCP`` vs the same app unprotected.

``python -m bench.mcp_endpoint [--requests N] [--concurrency 32] [--repeat K] ...`` (from the
repository root, with the project's venv Python).

1. An installation for the bench: a SQLite store in a temporary folder, a client and a user
   made by the ``ostiary`` CLI (``bench.prepare.register``), then, through the library, the
   server context (``build_context``: key ring with a signing key), grants saved in the store
   and access tokens for ``http://127.0.0.1:PORT/mcp`` signed by the core
   (``sign_access_token``) for them: one for the load, one per revocation probe.
2. Two server processes (``bench.mcp_server``), each on uvicorn configured like ``ostiary
   serve``: ``plain``, the official SDK's ``MCPServer`` (stateless streamable HTTP, JSON
   responses) with one ``echo`` tool, and ``protected``, the same app inside ``ProtectedMCP``
   with a ``LocalVerifier`` over that store and key ring.
3. Per round, the load generator (``bench.loadgen``, its own process, raw HTTP/1.1,
   ``concurrency`` keep-alive connections) sends the same ``tools/call`` with ``Authorization:
   Bearer``, ``Accept: application/json, text/event-stream`` and ``MCP-Protocol-Version`` to
   each server in turn: a warmup, then ``--requests`` measured requests. Server CPU over the
   measured phase and peak RSS are recorded as in ``bench.token_endpoint``. Rounds alternate
   which server goes first (ABBA), so a drift in machine load hits both sides alike.
   The verdict uses the median over rounds of each round's protected / plain ratio (the
   two runs of a round are neighbours in time); the spread of those ratios, the ratio of the
   best runs and the ratio of server CPU per request are printed beside it.
4. Revocation: one client polls the protected endpoint on one keep-alive connection; the
   bench revokes the token's grant in the store (``storage.revoke_grant``, as ``ostiary grant
   revoke`` does from another process) and prints the time from the end of that write to the
   first 401 (the ``LocalVerifier`` rechecks a live grant after ``grant_ttl``, 0.5 s).

Nothing is asserted: this is a harness. ``--profile DIR`` samples the protected server with
py-spy during its measured phases (``bench.profile`` summarizes the raw file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from importlib.metadata import version
from pathlib import Path

import httpx

from bench import loadgen, prepare
from bench.mcp_server import server_config
from bench.servers import MiB, Server, free_port, start
from bench.token_endpoint import Row, Target, best_of, measure
from ostiary.core.grants.issuance import sign_access_token
from ostiary.core.models import ClientId, Grant, GrantId
from ostiary.crypto.server_secret import ServerKeys, load_or_create_secret
from ostiary.server.context import build_context
from ostiary.storage.sql import open_storage

TARGET_RATIO = 0.95  # protected throughput over unprotected (issue 4)
TARGET_REVOCATION = 1.0  # seconds
PROTOCOL_VERSION = "2025-06-18"
ACCEPT = "application/json, text/event-stream"
CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "echo", "arguments": {"text": "hello"}},
}


@dataclass(frozen=True)
class Minted:
    token: str
    grant_id: str


async def mint(inst: prepare.Installation, client_id: str, count: int) -> list[Minted]:
    """``count`` grants in the store, each with an access token the core signs for it."""
    keys = ServerKeys.from_secret(load_or_create_secret(inst.data_dir / "ostiary.secret"))
    storage = await open_storage(inst.database)
    try:
        ctx = await build_context(server_config(inst.port), storage, keys)
        user = await storage.get_user_by_name(prepare.USERNAME)
        client = await storage.get_client(ClientId(client_id))
        if user is None or client is None:
            raise RuntimeError("the bench client or user is missing")
        minted = []
        for _ in range(count):
            grant = Grant(
                grant_id=GrantId(secrets.token_urlsafe(16)),
                user_id=user.user_id,
                client_id=client.client_id,
                scopes=prepare.SCOPES,
                resource=inst.resource,
                created_at=int(time.time()),
            )
            await storage.save_grant(grant)
            token = sign_access_token(
                client,
                user_id=user.user_id,
                grant_id=grant.grant_id,
                scopes=prepare.SCOPES,
                resource=inst.resource,
                deps=ctx.deps,
            )
            minted.append(Minted(token, grant.grant_id))
        return minted
    finally:
        await storage.close()


def headers(token: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Accept": ACCEPT,
        "MCP-Protocol-Version": PROTOCOL_VERSION,
        "Authorization": f"Bearer {token}",
    }


def start_mcp(mode: str, port: int, inst: prepare.Installation, token: str) -> Server:
    ready = httpx.Request("POST", f"http://127.0.0.1:{port}/mcp", headers=headers(token), json=CALL)
    command = [sys.executable, "-m", "bench.mcp_server", "--port", str(port), "--mode", mode]
    if mode == "protected":
        command += ["--data-dir", str(inst.data_dir), "--database", inst.database]
    return start(mode, command, port, ready)


# --- revocation -----------------------------------------------------------------------------


async def revocation_delay(
    inst: prepare.Installation, minted: Minted, before: float
) -> tuple[float, int, int]:
    """Seconds from the end of ``revoke_grant`` to the first 401 a polling client sees; the
    number of polls answered 200 after the revocation, and the polls in all."""
    url = f"http://127.0.0.1:{inst.port}/mcp"
    body = json.dumps(CALL).encode()
    revoked_at: float | None = None
    first_401: float | None = None
    polls = late = 0
    done = asyncio.Event()

    async def poll() -> None:
        nonlocal first_401, polls, late
        async with httpx.AsyncClient(timeout=5.0) as client:
            deadline = time.monotonic() + before + 10.0
            while time.monotonic() < deadline:
                response = await client.post(url, content=body, headers=headers(minted.token))
                polls += 1
                if response.status_code == 401:
                    first_401 = time.perf_counter()
                    break
                if response.status_code != 200:
                    raise RuntimeError(f"poll: {response.status_code} {response.text[:200]}")
                if revoked_at is not None:
                    late += 1
        done.set()

    storage = await open_storage(inst.database)
    try:
        poller = asyncio.create_task(poll())
        await asyncio.sleep(before)
        if not await storage.revoke_grant(GrantId(minted.grant_id), int(time.time())):
            raise RuntimeError("revoke_grant found no live grant")
        revoked_at = time.perf_counter()
        await poller
    finally:
        await storage.close()
    if first_401 is None:
        return float("inf"), late, polls
    return first_401 - revoked_at, late, polls


# --- the report -----------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    plain = next((r for r in rows if r.scenario == "plain"), None)
    head = (
        f"{'server':<11}{'ok req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'x plain':>8}"
        f"{'ms CPU':>7}{'server':>7}{'gen':>6}{'other':>6}{'idle RSS':>9}{'peak RSS':>9}  note"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        res = r.result
        ratio = r.ok_per_s / plain.ok_per_s if plain and plain.ok_per_s else 0.0
        other = max(0.0, r.cpu.machine - r.cpu.server - r.gen_cpu)
        notes = [f"ERRORS {res['statuses']}: {res['error_sample'][:120]}"] if r.errors else ["ok"]
        if len(r.runs) > 1:
            notes.append("best of " + "/".join(f"{x:,.0f}" for x in r.runs))
        lines.append(
            f"{r.scenario:<11}{r.ok_per_s:>9,.0f}{res['p50_ms']:>8.2f}{res['p99_ms']:>8.2f}"
            f"{r.errors:>7}{ratio:>8.3f}{r.server_ms_per_request:>7.3f}{r.cpu.server:>6.0f}%"
            f"{r.gen_cpu:>5.0f}%{other:>5.0f}%"
            f"{r.idle_rss / MiB:>6.0f} MB{r.peak_rss / MiB:>6.0f} MB"
            f"  {', '.join(notes)}"
        )
    return "\n".join(lines)


def verdict(measured: dict[str, list[Row]]) -> tuple[float, list[float], float]:
    """Print and return the median round ratio, every round's ratio and the best-run ratio."""
    paired = [
        b.ok_per_s / a.ok_per_s if a.ok_per_s else 0.0
        for a, b in zip(measured["plain"], measured["protected"], strict=True)
    ]
    ratio = statistics.median(paired)
    best_plain = max(r.ok_per_s for r in measured["plain"])
    best = max(r.ok_per_s for r in measured["protected"]) / best_plain if best_plain else 0.0
    cpu_plain = statistics.median(r.server_ms_per_request for r in measured["plain"])
    cpu_protected = statistics.median(r.server_ms_per_request for r in measured["protected"])
    print(
        f"\nprotected / plain throughput, median of {len(paired)} rounds: {ratio:.3f} "
        f"(target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'}); "
        f"rounds in order {' '.join(f'{r:.3f}' for r in paired)} (spread "
        f"{min(paired):.3f}-{max(paired):.3f}); best runs {best:.3f}"
    )
    print(
        f"server CPU per request, median: plain {cpu_plain * 1000:.0f} us, protected "
        f"{cpu_protected * 1000:.0f} us (plain / protected {cpu_plain / cpu_protected:.3f}); "
        f"protection costs {(cpu_protected - cpu_plain) * 1000:.0f} us"
        if cpu_protected
        else "server CPU per request: not measured"
    )
    return ratio, paired, best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mcp_endpoint")
    parser.add_argument("--requests", type=int, default=10000, help="measured per run")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=5, help="rounds (one run per server)")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--revocations", type=int, default=5, help="revocation probes")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the protected server")
    parser.add_argument("--json", type=Path, default=None, help="write every number here")
    args = parser.parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    print(
        f"MCP endpoint benchmark: tools/call, {args.concurrency} keep-alive connections, "
        f"{args.requests} requests per run, {args.repeat} rounds; {platform.node()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, mcp {version('mcp')}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="ostiary-mcp-bench-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "sqlite"
        data_dir.mkdir()
        inst = prepare.Installation(
            data_dir, f"sqlite:///{data_dir / 'ostiary.sqlite3'}", free_port()
        )
        client_id = prepare.register(inst)
        minted = asyncio.run(mint(inst, client_id, 1 + args.revocations))
        load = minted[0]
        servers = {
            "plain": start_mcp("plain", free_port(), inst, load.token),
            "protected": start_mcp("protected", inst.port, inst, load.token),
        }
        try:
            time.sleep(1.0)
            targets = {
                name: Target(
                    s,
                    "-",
                    s.rss(),
                    workdir,
                    args.profile if name == "protected" else None,
                    False,
                )
                for name, s in servers.items()
            }
            job = loadgen.Job(
                host="127.0.0.1",
                port=0,
                path="/mcp",
                scenario="fixed",
                concurrency=args.concurrency,
                requests=args.requests,
                warmup=args.warmup,
                max_seconds=args.max_seconds,
                body=json.dumps(CALL),
                content_type="application/json",
                accept=ACCEPT,
                headers={
                    "MCP-Protocol-Version": PROTOCOL_VERSION,
                    "Authorization": f"Bearer {load.token}",
                },
            )
            measured: dict[str, list[Row]] = {name: [] for name in servers}
            for rep in range(args.repeat):
                order = list(servers.items())
                for name, server in order if rep % 2 == 0 else order[::-1]:
                    row = measure(
                        targets[name], replace(job, port=server.port), f"{name}-{rep + 1}"
                    )
                    measured[name].append(row)
            rows = [replace(best_of(r), scenario=name) for name, r in measured.items()]
            delays = [
                asyncio.run(revocation_delay(inst, m, before=0.3 + 0.37 * i))
                for i, m in enumerate(minted[1:])
            ]
        finally:
            for server in servers.values():
                server.stop()

    print()
    print(table(rows))
    ratio, paired, best = verdict(measured)
    if delays:
        worst = max(d for d, _, _ in delays)
        shown = ", ".join(f"{d * 1000:.0f} ms ({late} late 200s)" for d, late, _ in delays)
        print(
            f"revocation -> first 401, {len(delays)} probes: {shown}; worst {worst * 1000:.0f} "
            f"ms (target < {TARGET_REVOCATION * 1000:.0f} ms: "
            f"{'met' if worst < TARGET_REVOCATION else 'NOT met'})"
        )
    for row in rows:
        if row.profile:
            print(f"\nprofile of {row.scenario}:\n{row.profile}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": [
                        {
                            "server": r.scenario,
                            "result": r.result,
                            "cpu": asdict(r.cpu),
                            "peak_rss": r.peak_rss,
                            "idle_rss": r.idle_rss,
                            "runs": r.runs,
                        }
                        for r in rows
                    ],
                    "ratio": ratio,
                    "round_ratios": paired,
                    "best_ratio": best,
                    "revocation_delays_s": [d for d, _, _ in delays],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
