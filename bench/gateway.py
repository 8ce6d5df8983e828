"""Gateway benchmark: ``tools/call`` through ``ostiary gateway`` vs the same upstream directly.

``python -m bench.gateway [--requests N] [--rounds K] [--concurrency 32] ...`` (from the
repository root, with the project's venv Python). Target (issue 6): the gateway reaches at
least 0.75 of the direct throughput and adds under 2 ms to the p50 latency.

1. HTTP upstream (the verdict): ``bench.mcp_upstream``, the official SDK's ``MCPServer`` with
   one ``echo`` tool as a stateful streamable-HTTP app with JSON answers, on uvicorn in its own
   process. In front of it, a real ``ostiary gateway --upstream http://127.0.0.1:PORT/mcp``
   process (its own temporary data folder, SQLite, built-in authorization server); the access
   token comes from a real sign-in (``tests.support.flows.sign_in``: a public client, the
   login and consent pages, the code exchange).
2. Stdio upstream (reported too): the same server over stdio behind ``ostiary gateway --
   python -m bench.mcp_upstream --stdio``, against that same stdio server driven directly
   through its pipe by the load generator. This comparison crosses transports: HTTP through
   the gateway, a bare pipe directly, so it also counts what HTTP itself costs.

Per round, the load generator (``bench.mcp_load``, its own process) runs against each side in
turn, the order alternating (ABBA), so a drift in machine load hits both sides alike: every
virtual client (``--concurrency``, 32) opens its MCP session (``initialize``), an unmeasured
warmup, then ``--requests`` measured ``tools/call``; and then a short sequential run (one
client, ``--latency-requests``) for the latency a single call sees without queueing. The
verdict is the median over rounds of each round's gateway / direct throughput ratio, and the
p50 added by the gateway (median over rounds) at 32 connections and at one.

CPU per call is read from ``/proc`` (psutil) between the generator's phase markers: the
gateway process, the upstream process (for the stdio gateway: its child), the generator.
Nothing is asserted: this is a harness. ``--profile DIR`` runs each gateway under cProfile
(its numbers are then slower; read the ``.prof`` files with ``python -m pstats``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
from tests.support.flows import callback_listener, sign_in
from tests.support.process import RunningServer

from bench.gateway_variant import KNOWN as KNOWN_PATCHES
from bench.gateway_variant import PATCHES
from bench.mcp_load import ACCEPT, McpJob, initialize_request
from bench.servers import OSTIARY, ROOT, Server, free_port, generator, start

TARGET_RATIO = 0.75  # gateway throughput over direct (issue 6)
TARGET_ADDED_P50_MS = 2.0
UPSTREAM_STDIO = [sys.executable, "-m", "bench.mcp_upstream", "--stdio"]
READY_SECONDS = 30.0


# --- one run of the load generator -----------------------------------------------------


Pids = Callable[[], dict[str, list[int]]]  # role -> the processes to charge CPU to


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += float(times.user + times.system)
    return total


def machine_busy() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


@dataclass
class Sample:
    """One measured run: the generator's summary and CPU seconds by role."""

    label: str
    result: dict[str, Any]
    cpu: dict[str, float] = field(default_factory=dict)  # role -> CPU s over the phase
    wall: float = 0.0
    busy: float = 0.0  # machine CPU s over the phase (all cores)

    @property
    def ok(self) -> int:
        return int(self.result["ok"])

    @property
    def ok_per_s(self) -> float:
        return float(self.result["ok_per_s"])

    @property
    def p50(self) -> float:
        return float(self.result["p50_ms"])

    @property
    def p99(self) -> float:
        return float(self.result["p99_ms"])

    @property
    def errors(self) -> int:
        return int(self.result["errors"])

    def us_per_call(self, role: str) -> float:
        return 1e6 * self.cpu.get(role, 0.0) / self.ok if self.ok else 0.0

    @property
    def other_pct(self) -> float:
        """CPU of everything else on the machine, in % of one core."""
        if self.wall <= 0:
            return 0.0
        ours = sum(self.cpu.values())
        return max(0.0, 100.0 * (self.busy - ours) / self.wall)


def run_load(job: McpJob, pids: Pids, label: str, workdir: Path) -> Sample:
    """Run ``bench.mcp_load`` once; CPU of every role is taken between its phase markers."""
    job_file = workdir / f"job-{label}.json"
    job_file.write_text(json.dumps(asdict(job)))
    err_file = workdir / f"load-{label}.err"
    with generator("bench.mcp_load", job_file, err_file, job.max_seconds) as gen:
        sample = _follow(gen, pids, label)
    if gen.returncode != 0 or not sample.result:
        raise RuntimeError(f"load generator failed ({gen.returncode}):\n{err_file.read_text()}")
    if stderr := err_file.read_text().strip():
        sample.result["loadgen_stderr"] = stderr[:500]
    return sample


def _follow(gen: subprocess.Popen[str], pids: Pids, label: str) -> Sample:
    assert gen.stdout is not None
    sample = Sample(label, {})
    watched: dict[str, list[int]] = {}
    before: dict[str, float] = {}
    t0 = busy0 = 0.0
    for raw in gen.stdout:
        line = raw.strip()
        if line.startswith("upstream pid "):
            watched["upstream"] = [int(line.split()[-1])]
        elif line == "phase measure":
            watched = {**pids(), **watched, "generator": [gen.pid]}
            before = {role: cpu_of(p) for role, p in watched.items()}
            t0, busy0 = time.perf_counter(), machine_busy()
        elif line == "phase done":
            sample.wall = time.perf_counter() - t0
            sample.busy = machine_busy() - busy0
            sample.cpu = {role: cpu_of(p) - before[role] for role, p in watched.items()}
        elif line.startswith("{"):
            sample.result = json.loads(line)
    return sample


# --- the processes -----------------------------------------------------------------------


def start_upstream(port: int) -> Server:
    body = json.dumps(initialize_request(1)).encode()
    ready = httpx.Request(
        "POST",
        f"http://127.0.0.1:{port}/mcp",
        content=body,
        headers={"content-type": "application/json", "accept": ACCEPT},
    )
    command = [sys.executable, "-m", "bench.mcp_upstream", "--port", str(port)]
    return start("upstream", command, port, ready)


@contextmanager
def running_gateway(
    data_dir: Path, args: list[str], profile: Path | None = None, patches: Sequence[str] = ()
) -> Iterator[RunningServer]:
    """A real ``ostiary gateway`` (under cProfile when ``profile`` names the output file;
    through ``bench.gateway_variant`` with ``patches`` applied, for experiments)."""
    port = free_port()
    data_dir.mkdir(parents=True)
    database = f"sqlite:///{data_dir / 'ostiary.sqlite3'}"
    env = {**os.environ, "OSTIARY_DATA_DIR": str(data_dir), "OSTIARY_DATABASE": database}
    program = [OSTIARY]
    if patches:
        env[PATCHES] = ",".join(patches)
        program = ["-m", "bench.gateway_variant"]
    if profile is not None:
        program = [sys.executable, "-m", "cProfile", "-o", str(profile), *program]
    elif patches:
        program = [sys.executable, *program]
    command = [*program, "gateway", "--port", str(port), "--log-level", "warning", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT
    )
    output: list[str] = []
    try:
        banner = _banner(process, output)
        password = re.search(r"shown only this once\):\n\s+(\S+)", banner)
        issuer = f"http://127.0.0.1:{port}"
        _wait_metadata(issuer, process, output)
        yield RunningServer(
            issuer, data_dir, database, password[1] if password else "", process, output
        )
    finally:
        # SIGINT, not SIGTERM: uvicorn re-raises the signal it caught after shutting down,
        # and only Ctrl+C ends the process through Python (so cProfile writes its file).
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _banner(process: subprocess.Popen[str], output: list[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"gateway exited early:\n{''.join(output)}")
        output.append(line)
        if line.startswith("Press Ctrl+C"):
            break
    banner = "".join(output)
    threading.Thread(target=_drain, args=(process, output), daemon=True).start()
    return banner


def _drain(process: subprocess.Popen[str], into: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        into.append(line)


def _wait_metadata(issuer: str, process: subprocess.Popen[str], output: list[str]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited:\n{''.join(output)}")
        try:
            httpx.get(f"{issuer}/.well-known/oauth-authorization-server", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"gateway did not answer:\n{''.join(output)}")


def token_for(server: RunningServer) -> str:
    """An access token for the gateway's ``/mcp`` from a real login and consent."""
    with callback_listener() as callback:
        return str(sign_in(server, callback)["access_token"])


def warnings(server: RunningServer) -> list[str]:
    return [line.rstrip() for line in server.output if line.startswith(("WARNING", "ERROR"))]


def children(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


# --- rounds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    name: str  # direct | gateway
    job: McpJob
    pids: Pids


@dataclass
class Comparison:
    """Every run of one transport, by side: ``load`` at full concurrency, ``seq`` with one."""

    title: str
    load: dict[str, list[Sample]] = field(default_factory=dict)
    seq: dict[str, list[Sample]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # the gateway's warnings and errors


def rounds(title: str, sides: list[Side], args: argparse.Namespace, workdir: Path) -> Comparison:
    comparison = Comparison(title, {s.name: [] for s in sides}, {s.name: [] for s in sides})
    tag = title.split(maxsplit=1)[0].lower()
    for rep in range(args.rounds):
        order = sides if rep % 2 == 0 else sides[::-1]
        for side in order:
            label = f"{tag}-{side.name}-{rep + 1}"
            sample = run_load(side.job, side.pids, label, workdir)
            comparison.load[side.name].append(sample)
            print(
                f"  {label:<20} {sample.ok_per_s:>7,.0f} req/s  p50 {sample.p50:6.2f} ms  "
                f"p99 {sample.p99:6.2f} ms  errors {sample.errors}",
                flush=True,
            )
            if args.latency_requests:
                job = replace(side.job, concurrency=1, requests=args.latency_requests, warmup=50)
                seq = run_load(job, side.pids, f"{label}-seq", workdir)
                comparison.seq[side.name].append(seq)
    return comparison


def http_comparison(args: argparse.Namespace, workdir: Path) -> Comparison:
    port = free_port()
    upstream = start_upstream(port)
    url = f"http://127.0.0.1:{port}/mcp"
    profile = args.profile / "gateway-http.prof" if args.profile else None
    try:
        with running_gateway(workdir / "gw-http", ["--upstream", url], profile, args.patch) as gw:
            token = token_for(gw)
            gw_port = int(gw.issuer.rsplit(":", 1)[1])
            base = McpJob(
                "http", args.concurrency, args.requests, args.warmup, args.max_seconds, port=port
            )
            sides = [
                Side("direct", base, lambda: {"upstream": [upstream.pid]}),
                Side(
                    "gateway",
                    replace(base, port=gw_port, token=token),
                    lambda: {"gateway": [gw.process.pid], "upstream": [upstream.pid]},
                ),
            ]
            comparison = rounds("HTTP upstream", sides, args, workdir)
            comparison.log = warnings(gw)
            return comparison
    finally:
        upstream.stop()


def stdio_comparison(args: argparse.Namespace, workdir: Path) -> Comparison:
    profile = args.profile / "gateway-stdio.prof" if args.profile else None
    gw_args = ["--cwd", str(ROOT), "--", *UPSTREAM_STDIO]
    with running_gateway(workdir / "gw-stdio", gw_args, profile, args.patch) as gw:
        token = token_for(gw)
        gw_port = int(gw.issuer.rsplit(":", 1)[1])
        base = McpJob(
            "stdio",
            args.concurrency,
            args.requests,
            args.warmup,
            args.max_seconds,
            command=UPSTREAM_STDIO,
        )
        gateway_job = replace(base, transport="http", port=gw_port, token=token, command=[])
        pid = gw.process.pid
        sides = [
            Side("direct", base, dict),  # the generator reports the pid of its own upstream
            Side("gateway", gateway_job, lambda: {"gateway": [pid], "upstream": children(pid)}),
        ]
        comparison = rounds("Stdio upstream", sides, args, workdir)
        comparison.log = warnings(gw)
        return comparison


# --- the report --------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def report(c: Comparison, verdict: bool) -> dict[str, Any]:
    direct, gateway = c.load["direct"], c.load["gateway"]
    pairs = list(zip(direct, gateway, strict=True))
    ratios = [g.ok_per_s / d.ok_per_s if d.ok_per_s else 0.0 for d, g in pairs]
    added = [g.p50 - d.p50 for d, g in pairs]
    print(f"\n{c.title}")
    head = (
        f"{'round':<6}{'first':<8}{'direct req/s':>13}{'p50':>7}{'p99':>7}"
        f"{'gateway req/s':>15}{'p50':>7}{'p99':>7}{'ratio':>7}{'+p50 ms':>9}"
        f"{'gw us/call':>11}{'up us/call':>11}{'other':>7}  errors"
    )
    print(head)
    print("-" * len(head))
    for i, (d, g) in enumerate(pairs):
        first = "direct" if i % 2 == 0 else "gateway"
        print(
            f"{i + 1:<6}{first:<8}{d.ok_per_s:>13,.0f}{d.p50:>7.2f}{d.p99:>7.2f}"
            f"{g.ok_per_s:>15,.0f}{g.p50:>7.2f}{g.p99:>7.2f}{ratios[i]:>7.3f}{added[i]:>9.2f}"
            f"{g.us_per_call('gateway'):>11.0f}{g.us_per_call('upstream'):>11.0f}"
            f"{max(d.other_pct, g.other_pct):>6.0f}%  {d.errors}/{g.errors}"
        )
    ratio, plus = median(ratios), median(added)
    target = "met" if ratio >= TARGET_RATIO else "NOT met"
    p50_target = "met" if plus < TARGET_ADDED_P50_MS else "NOT met"
    kind = "verdict" if verdict else "reported, no verdict"
    print(
        f"gateway / direct throughput, median of {len(ratios)} rounds: {ratio:.3f} "
        f"(target >= {TARGET_RATIO}: {target}; {kind}); spread {min(ratios):.3f}-"
        f"{max(ratios):.3f}"
    )
    print(
        f"p50 at {direct[0].result['concurrency']} connections, median: direct "
        f"{median([d.p50 for d in direct]):.2f} ms, gateway {median([g.p50 for g in gateway]):.2f}"
        f" ms, added {plus:.2f} ms (target < {TARGET_ADDED_P50_MS} ms: {p50_target}; with"
        " queueing)"
    )
    seq_plus = 0.0
    if c.seq.get("direct"):
        sd, sg = c.seq["direct"], c.seq["gateway"]
        seq_plus = median([g.p50 - d.p50 for d, g in zip(sd, sg, strict=True)])
        alone = "met" if seq_plus < TARGET_ADDED_P50_MS else "NOT met"
        print(
            f"p50 of one client alone (no queueing), median: direct "
            f"{median([d.p50 for d in sd]):.2f} ms, gateway {median([g.p50 for g in sg]):.2f} ms"
            f", added {seq_plus:.2f} ms (target < {TARGET_ADDED_P50_MS} ms: {alone}); p99 "
            f"direct {median([d.p99 for d in sd]):.2f} ms, gateway "
            f"{median([g.p99 for g in sg]):.2f} ms"
        )
    up_direct = median([d.us_per_call("upstream") for d in direct])
    up_gw = median([g.us_per_call("upstream") for g in gateway])
    gw_cpu = median([g.us_per_call("gateway") for g in gateway])
    gen_d = median([d.us_per_call("generator") for d in direct])
    gen_g = median([g.us_per_call("generator") for g in gateway])
    print(
        f"CPU per call, median: gateway process {gw_cpu:.0f} us; upstream {up_direct:.0f} us "
        f"direct, {up_gw:.0f} us behind the gateway; load generator {gen_d:.0f} us direct, "
        f"{gen_g:.0f} us through the gateway"
    )
    if c.log:
        print(f"gateway log: {len(c.log)} warnings/errors, first: " + " | ".join(c.log[:3]))
    return {
        "title": c.title,
        "gateway_log": c.log,
        "ratio": ratio,
        "round_ratios": ratios,
        "added_p50_ms": plus,
        "round_added_p50_ms": added,
        "sequential_added_p50_ms": seq_plus,
        "gateway_us_per_call": gw_cpu,
        "upstream_us_per_call": {"direct": up_direct, "gateway": up_gw},
        "runs": {
            kind: {
                side: [{"result": s.result, "cpu": s.cpu, "wall": s.wall} for s in samples]
                for side, samples in runs.items()
            }
            for kind, runs in (("load", c.load), ("sequential", c.seq))
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway")
    parser.add_argument("--requests", type=int, default=2000, help="measured per run")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5, help="runs per side, order alternating")
    parser.add_argument(
        "--latency-requests", type=int, default=300, help="one-client run per side and round"
    )
    parser.add_argument("--max-seconds", type=float, default=20.0, help="cap per phase")
    parser.add_argument("--transport", choices=["http", "stdio", "both"], default="both")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the gateways here")
    parser.add_argument(
        "--patch",
        action="append",
        default=[],
        choices=KNOWN_PATCHES,
        help="EXPERIMENT: run the gateways with this change (bench.gateway_variant; repeatable)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write every number here")
    args = parser.parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(
        f"Gateway benchmark: tools/call, {args.concurrency} clients, {args.requests} requests per "
        f"run, {args.rounds} rounds (ABBA); {platform.node()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, mcp {version('mcp')}"
        + (" [PROFILED: cProfile slows the gateway]" if args.profile else "")
        + (f" [EXPERIMENT: {', '.join(args.patch)}]" if args.patch else ""),
        flush=True,
    )
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ostiary-gateway-bench-") as tmp:
        workdir = Path(tmp)
        comparisons: list[tuple[Comparison, bool]] = []
        if args.transport in ("http", "both"):
            print("HTTP upstream: direct vs ostiary gateway --upstream", flush=True)
            comparisons.append((http_comparison(args, workdir), True))
        if args.transport in ("stdio", "both"):
            print("Stdio upstream: its pipe directly vs ostiary gateway -- COMMAND", flush=True)
            comparisons.append((stdio_comparison(args, workdir), False))
    for comparison, verdict in comparisons:
        if comparison.title.startswith("Stdio"):
            print(
                "\n(Stdio: this comparison crosses transports: the direct side is a bare "
                "JSON-RPC pipe, the gateway side is streamable HTTP with OAuth, so the ratio "
                "also counts what HTTP itself costs.)"
            )
        results.append(report(comparison, verdict))
    if args.json:
        settings = {k: str(v) for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"args": settings, "results": results}, indent=2))


if __name__ == "__main__":
    main()
