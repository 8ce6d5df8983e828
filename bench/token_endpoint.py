"""Token endpoint benchmark: real ``ostiary serve`` against a floor server, in one run.

``python -m bench.token_endpoint [--requests N] [--concurrency 32] [--backend B]
[--scenario S] [--repeat K] ...`` (from the repository root, with the project's venv Python).

1. The floor (``bench.floor``): a bare Starlette ``POST /token`` on uvicorn with the settings
   ``ostiary serve`` uses, in its own process; also on uvloop, for comparison.
2. For each backend (SQLite, then PostgreSQL in a fresh database): a client and a user made
   by the ``ostiary`` CLI, refresh-token chains and authorization codes minted into the
   database through the library (``bench.prepare``), then one ``ostiary serve`` process on a
   free loopback port.
3. Per scenario, a load generator in its own process (``bench.loadgen``) with ``concurrency``
   keep-alive connections: an unmeasured warmup, then ``--requests`` measured requests (at
   most ``--max-seconds``). Server RSS is sampled throughout; CPU over the measured phase.

It prints one table: successful requests per second, p50/p99 latency of successful
requests, errors (any non-200 or transport failure; such a row is marked ERRORS), the ratio
to the floor, CPU of server, generator, PostgreSQL and everything else, peak RSS; then
PostgreSQL/SQLite ratios, memory, and the issue's targets as plain comparisons. Nothing is
asserted: this is a harness, not a test. ``--profile DIR`` runs py-spy on the server during
each measured phase and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from bench import loadgen, prepare
from bench.profile import Profile
from bench.servers import (
    OSTIARY,
    ROOT,
    CpuSnapshot,
    CpuUse,
    MiB,
    RssSampler,
    Server,
    free_port,
    generator,
    start,
)

SCENARIOS = ("refresh", "code")
BACKENDS = ("sqlite", "postgres")
FLOOR_TARGET = 10  # refresh on SQLite should reach at least 1/10 of the floor
PG_TARGET = 2.0  # PostgreSQL within a factor of two of SQLite
RSS_IDLE_TARGET = 150  # MiB
RSS_LOAD_TARGET = 250  # MiB


@dataclass
class Row:
    """One measured run (or, after ``--repeat``, the best of several)."""

    scenario: str
    backend: str
    result: dict[str, Any]
    cpu: CpuUse
    peak_rss: int
    idle_rss: int
    profile: str = ""
    runs: list[float] = field(default_factory=list)  # ok req/s of every repetition

    @property
    def ok_per_s(self) -> float:
        return float(self.result["ok_per_s"])

    @property
    def errors(self) -> int:
        return int(self.result["errors"])

    @property
    def server_ms_per_request(self) -> float:
        """Server CPU milliseconds per successful request."""
        ok = int(self.result["ok"])
        return 10.0 * self.cpu.server * self.cpu.seconds / ok if ok else 0.0

    @property
    def gen_cpu(self) -> float:
        elapsed = float(self.result["elapsed_s"])
        return 100.0 * float(self.result["loadgen_cpu_s"]) / elapsed if elapsed else 0.0


@dataclass
class Run:
    """Everything one invocation measured."""

    args: dict[str, str]
    floor_name: str
    rows: list[Row] = field(default_factory=list)
    probes: dict[str, list[float]] = field(default_factory=dict)  # keep-alive latencies, ms

    def find(self, scenario: str, backend: str) -> Row | None:
        return next((r for r in self.rows if r.scenario == scenario and r.backend == backend), None)

    @property
    def floor(self) -> Row | None:
        return self.find(self.floor_name, "-")

    def backend_rows(self, backend: str) -> list[Row]:
        return [r for r in self.rows if r.backend == backend]


def best_of(rows: list[Row]) -> Row:
    """The repetition with the highest throughput, carrying every repetition's throughput and
    the errors and peak memory of all of them (errors anywhere must not disappear)."""
    best = max(rows, key=lambda r: r.ok_per_s)
    errors = sum(r.errors for r in rows)
    result = {**best.result, "errors": errors}
    if errors and not best.errors:
        failed = next(r for r in rows if r.errors)
        result["statuses"] = failed.result["statuses"]
        result["error_sample"] = failed.result["error_sample"]
    return replace(
        best,
        result=result,
        peak_rss=max(r.peak_rss for r in rows),
        profile=next((r.profile for r in rows if r.profile), ""),
        runs=[r.ok_per_s for r in rows],
    )


# --- measuring ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A running server to measure, and where to keep files."""

    server: Server
    backend: str  # "-" for a floor
    idle_rss: int
    workdir: Path
    profile_dir: Path | None = None
    profile_gil: bool = False


def measure(target: Target, job: loadgen.Job, label: str) -> Row:
    """Run one load-generator process against the server; sample the server meanwhile."""
    job_file = target.workdir / f"job-{label}.json"
    job_file.write_text(json.dumps(asdict(job)))
    err_file = target.workdir / f"loadgen-{label}.err"
    print(f"  {label}: {job.warmup} warmup + {job.requests} requests ...", flush=True)
    with (
        RssSampler(target.server.pid) as rss,
        generator("bench.loadgen", job_file, err_file, job.max_seconds) as gen,
    ):
        lines, cpu, spy = _follow(gen, target, label)
    if gen.returncode != 0 or not lines:
        raise RuntimeError(f"load generator failed ({gen.returncode}):\n{err_file.read_text()}")
    result = json.loads(lines[-1])
    if stderr := err_file.read_text().strip():
        result["loadgen_stderr"] = stderr[:500]
    scenario = label if target.backend == "-" else job.scenario
    return Row(scenario, target.backend, result, cpu, rss.peak, target.idle_rss, spy)


def _follow(
    gen: subprocess.Popen[str], target: Target, label: str
) -> tuple[list[str], CpuUse, str]:
    """Read the generator's phase markers; take CPU (and py-spy) between them."""
    assert gen.stdout is not None
    lines: list[str] = []
    first: CpuSnapshot | None = None
    cpu = CpuUse(0.0, 0.0, 0.0, 0.0)
    spy: subprocess.Popen[bytes] | None = None
    spy_file = target.profile_dir / f"{label}.txt" if target.profile_dir else None
    try:
        for raw in gen.stdout:
            line = raw.strip()
            if line == "phase measure":
                if spy_file is not None:
                    spy = _start_py_spy(target.server.pid, spy_file, target.profile_gil)
                first = CpuSnapshot.take(target.server)
            elif line == "phase done":
                if first is not None:
                    cpu = CpuUse.between(first, CpuSnapshot.take(target.server))
                _stop_py_spy(spy)
                spy = None
            elif line:
                lines.append(line)
    finally:
        _stop_py_spy(spy)
    summary = ""
    if spy_file is not None and spy_file.exists():
        summary = Profile.parse(spy_file.read_text()).report()
    return lines, cpu, summary


def _start_py_spy(pid: int, output: Path, gil: bool) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        print("  (py-spy not found: pip install py-spy; profiling skipped)", flush=True)
        return None
    # Blocking mode (py-spy pauses the server for each sample): --nonblocking drops the
    # samples it cannot read consistently, which over-weights time spent in system calls.
    command = [exe, "record", "--pid", str(pid), "--rate", "100", "--format", "raw"]
    if gil:
        command.append("--gil")  # only samples of the thread holding the GIL
    return subprocess.Popen(
        [*command, "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop_py_spy(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is None or spy.poll() is not None:
        return
    spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl+C
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


# --- the servers --------------------------------------------------------------------------


def base_job(args: argparse.Namespace, port: int, scenario: str) -> loadgen.Job:
    return loadgen.Job(
        host="127.0.0.1",
        port=port,
        path="/token",
        scenario=scenario,
        concurrency=args.concurrency,
        requests=args.floor_requests if scenario == "floor" else args.requests,
        warmup=args.warmup,
        max_seconds=args.max_seconds,
        generator=args.generator,
    )


def run_floor(args: argparse.Namespace, loop: str, workdir: Path, run: Run) -> None:
    port = free_port()
    name = "floor" if loop == "asyncio" else "floor-uvloop"
    probe = httpx.Request("POST", f"http://127.0.0.1:{port}/token", content=b"x=1")
    server = start(
        name,
        [sys.executable, "-m", "bench.floor", "--port", str(port), "--loop", loop],
        port,
        probe,
    )
    try:
        run.probes[f"{name}: POST /token"] = keepalive_probe(probe)
        time.sleep(0.5)
        target = Target(server, "-", server.rss(), workdir)
        job = replace(base_job(args, port, "floor"), client_id="floor-client-id-0123456789")
        rows = [measure(target, job, name) for _ in range(args.repeat)]
        run.rows.append(best_of(rows))
    finally:
        server.stop()


@contextmanager
def installation(
    backend: str, args: argparse.Namespace, workdir: Path
) -> Iterator[prepare.Installation]:
    data_dir = workdir / backend
    data_dir.mkdir()
    port = free_port()
    if backend == "sqlite":
        yield prepare.Installation(data_dir, f"sqlite:///{data_dir / 'ostiary.sqlite3'}", port)
        return
    with prepare.fresh_postgres(args.postgres_url) as url:
        yield prepare.Installation(data_dir, url, port)


def ostiary_command(args: argparse.Namespace, port: int) -> list[str]:
    serve = ["serve", "--port", str(port), "--log-level", "warning"]
    if args.patch:
        return [sys.executable, "-m", "bench.serve_variant", *serve]
    return [OSTIARY, *serve]


def keepalive_probe(request: httpx.Request, count: int = 20) -> list[float]:
    """Latencies (ms) of ``count`` sequential requests on one keep-alive connection.

    Near 40 ms each means Nagle's algorithm meets delayed ACKs (no ``TCP_NODELAY``).
    """
    times: list[float] = []
    with httpx.Client(timeout=5.0) as client:
        for _ in range(count):
            start_time = time.perf_counter()
            client.send(request).read()
            times.append((time.perf_counter() - start_time) * 1000.0)
    return times


def run_backend(backend: str, args: argparse.Namespace, workdir: Path, run: Run) -> None:
    scenarios = SCENARIOS if args.scenario == "all" else (args.scenario,)
    per_run = args.warmup + args.requests
    with installation(backend, args, workdir) as inst:
        t0 = time.perf_counter()
        client_id = prepare.register(inst)
        chains = args.concurrency if "refresh" in scenarios else 0
        codes = per_run * args.repeat if "code" in scenarios else 0
        data = asyncio.run(prepare.mint(inst, client_id, chains, codes))
        print(
            f"  {backend}: client and user (CLI), {chains} refresh chains and {codes} codes "
            f"(library) ready in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        metadata = httpx.Request("GET", f"{inst.issuer}/.well-known/oauth-authorization-server")
        server = start(
            f"ostiary serve ({backend})",
            ostiary_command(args, inst.port),
            inst.port,
            metadata,
            env={**inst.env, "OSTIARY_BENCH_PATCHES": ",".join(args.patch)},
        )
        try:
            run.probes[f"ostiary ({backend}): GET metadata"] = keepalive_probe(metadata)
            time.sleep(1.0)
            target = Target(server, backend, server.rss(), workdir, args.profile, args.profile_gil)
            common = replace(
                base_job(args, inst.port, "refresh"),
                client_id=data.client_id,
                resource=inst.resource,
                redirect_uri=prepare.REDIRECT_URI,
            )
            tokens = data.chains
            measured: dict[str, list[Row]] = {s: [] for s in scenarios}
            for rep in range(args.repeat):
                for scenario in scenarios:
                    job = replace(common, scenario=scenario)
                    if scenario == "refresh":
                        job.chains = tokens
                    else:
                        job.codes = [list(p) for p in data.codes[rep * per_run :][:per_run]]
                    row = measure(target, job, f"{backend}-{scenario}-{rep + 1}")
                    tokens = row.result.pop("chains", None) or tokens
                    measured[scenario].append(row)
            run.rows += [best_of(rows) for rows in measured.values()]
        finally:
            server.stop()
            if server.process.returncode not in (0, -signal.SIGTERM):
                print("".join(server.output[-40:]), file=sys.stderr)


# --- the report ---------------------------------------------------------------------------


def _mb(n: float) -> str:
    return f"{n / MiB:.0f} MB"


def table(run: Run) -> str:
    floor = run.floor
    head = (
        f"{'scenario':<13}{'backend':<10}{'ok req/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'errors':>7}{'x floor':>8}{'ms CPU':>7}{'server':>7}{'gen':>6}{'pg':>6}{'other':>6}"
        f"{'peak RSS':>9}  note"
    )
    lines = [head, "-" * len(head)]
    for r in run.rows:
        res = r.result
        ratio = r.ok_per_s / floor.ok_per_s if floor and floor.ok_per_s else 0.0
        other = max(0.0, r.cpu.machine - r.cpu.server - r.gen_cpu - r.cpu.postgres)
        notes = [f"ERRORS {res['statuses']}"] if r.errors else ["ok"]
        if res.get("stalled_clients"):
            notes.append(f"{res['stalled_clients']} stalled clients")
        if len(r.runs) > 1:
            notes.append("best of " + "/".join(f"{x:,.0f}" for x in r.runs))
        lines.append(
            f"{r.scenario:<13}{r.backend:<10}{r.ok_per_s:>9,.0f}{res['p50_ms']:>8.2f}"
            f"{res['p99_ms']:>8.2f}{r.errors:>7}{ratio:>8.3f}{r.server_ms_per_request:>7.3f}"
            f"{r.cpu.server:>6.0f}%"
            f"{r.gen_cpu:>5.0f}%{r.cpu.postgres:>5.0f}%{other:>5.0f}%{_mb(r.peak_rss):>9}"
            f"  {', '.join(notes)}"
        )
    lines.append(
        "ms CPU: server CPU time per successful request (user+system, all its threads); it "
        "depends far less on other load than req/s does."
    )
    lines.append(
        f"server/gen/pg/other: mean CPU over the measured phase in % of one core "
        f"({os.cpu_count()} cores = {100 * (os.cpu_count() or 1)}%): server process, load "
        "generator, all PostgreSQL processes, everything else on the machine (other work)."
    )
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _ratio_lines(run: Run) -> list[str]:
    lines = []
    for scenario in SCENARIOS:
        lite, pg = run.find(scenario, "sqlite"), run.find(scenario, "postgres")
        if lite and pg and lite.ok_per_s:
            ok = pg.ok_per_s * PG_TARGET >= lite.ok_per_s and not pg.errors
            lines.append(
                f"  {scenario}: PostgreSQL/SQLite throughput {pg.ok_per_s / lite.ok_per_s:.2f} "
                f"(target: within x{PG_TARGET:g}, i.e. >= {1 / PG_TARGET:.2f}) -> {_verdict(ok)}"
            )
    return lines


def _memory_lines(run: Run) -> list[str]:
    lines = []
    for backend in BACKENDS:
        rows = run.backend_rows(backend)
        if rows:
            idle, peak = rows[0].idle_rss, max(r.peak_rss for r in rows)
            lines.append(
                f"  {backend} server RSS: idle after start {_mb(idle)} (target < "
                f"{RSS_IDLE_TARGET} MB -> {_verdict(idle / MiB < RSS_IDLE_TARGET)}), peak "
                f"under load {_mb(peak)} (target < {RSS_LOAD_TARGET} MB -> "
                f"{_verdict(peak / MiB < RSS_LOAD_TARGET)})"
            )
    return lines


def comparisons(run: Run) -> list[str]:
    lines = ["targets from the issue (reported, not asserted):"]
    floor, lite = run.floor, run.find("refresh", "sqlite")
    if lite and floor and floor.ok_per_s:
        need = floor.ok_per_s / FLOOR_TARGET
        share = floor.ok_per_s / max(lite.ok_per_s, 1e-9)
        lines.append(
            f"  refresh on SQLite: {lite.ok_per_s:,.0f} req/s = 1/{share:.1f} of the floor "
            f"(target >= 1/{FLOOR_TARGET} = {need:,.0f} req/s) -> "
            f"{_verdict(lite.ok_per_s >= need and not lite.errors)}"
        )
    lines += _ratio_lines(run) + _memory_lines(run)
    if run.probes:
        lines += ["", "keep-alive probe (20 sequential requests on one connection, median ms):"]
    for name, times in run.probes.items():
        median = sorted(times)[len(times) // 2]
        stall = "  <- ~40 ms: Nagle + delayed ACK (no TCP_NODELAY)" if median > 30 else ""
        lines.append(f"  {name}: {median:.2f}{stall}")
    failed = [r for r in run.rows if r.errors]
    if failed:
        lines += ["", "THIS RUN HAD ERRORS; those rows are not comparable:"]
        lines += [f"  {r.scenario}/{r.backend}: {r.result['error_sample']}" for r in failed]
    return lines


def source_state() -> str:
    """Which ostiary was measured: the commit, and whether src/ had uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout

    try:
        head = git("rev-parse", "--short", "HEAD").strip()
        dirty = git("status", "--porcelain", "--", "src").splitlines()
    except OSError:
        return "unknown (no git)"
    return f"{head or 'unknown'}" + (f" + {len(dirty)} uncommitted paths in src/" if dirty else "")


def describe(args: argparse.Namespace) -> str:
    server = "`ostiary serve` as shipped (stdlib asyncio loop: it starts uvicorn with asyncio.run)"
    if args.patch:
        server = (
            f"EXPERIMENT: the ostiary CLI with patches {', '.join(args.patch)} applied by "
            "bench/serve_variant.py (not the shipped command)"
        )
    return "\n".join(
        [
            f"python {platform.python_version()}, {os.cpu_count()} cores, uvicorn "
            f"{version('uvicorn')} (http auto = httptools {version('httptools')}), "
            f"uvloop {version('uvloop')}",
            f"ostiary: {source_state()}",
            f"server: 1 process; {server}",
            f"load generator: {args.generator}, {args.concurrency} keep-alive connections, its "
            "own process on the same cores (see the gen CPU column)",
            f"per run: {args.warmup} warmup + {args.requests} requests (floor "
            f"{args.floor_requests}), at most {args.max_seconds:g} s per phase; "
            f"repeat {args.repeat} (best shown)",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.token_endpoint",
        description="Benchmark ostiary's token endpoint against a floor server.",
    )
    add = parser.add_argument
    add("--requests", type=int, default=6000, help="measured requests per run [6000]")
    add("--floor-requests", type=int, default=40000, help="for the floor [40000]")
    add("--warmup", type=int, default=300, help="unmeasured requests before each run [300]")
    add("--concurrency", type=int, default=32, help="connections = virtual clients [32]")
    add("--backend", choices=[*BACKENDS, "both"], default="both")
    add("--scenario", choices=[*SCENARIOS, "all"], default="all")
    add("--repeat", type=int, default=1, help="runs per measurement; the best is shown [1]")
    add("--generator", choices=["raw", "httpx"], default="raw")
    add("--max-seconds", type=float, default=60.0, help="cap per phase [60]")
    add("--floor", choices=["asyncio", "uvloop", "both"], default="both", help="floor loop(s)")
    add(
        "--patch",
        action="append",
        choices=["nodelay", "uvloop", "fastjwt"],
        default=[],
        help="experiment: serve through bench/serve_variant.py with this change (repeatable)",
    )
    add(
        "--postgres-url",
        default=os.environ.get("OSTIARY_TEST_POSTGRES", prepare.POSTGRES_DEFAULT),
        help="server for the fresh database [OSTIARY_TEST_POSTGRES or local test]",
    )
    add("--profile", type=Path, help="py-spy the server into this folder, print summaries")
    add("--profile-gil", action="store_true", help="with --profile: only GIL-holding samples")
    add("--json", type=Path, help="also write every number here")
    args = parser.parse_args(argv)
    if min(args.concurrency, args.requests, args.floor_requests, args.repeat) < 1:
        parser.error("--concurrency, --requests, --floor-requests and --repeat must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    floors = ("asyncio", "uvloop") if args.floor == "both" else (args.floor,)
    server_loop = "uvloop" if "uvloop" in args.patch else "asyncio"
    if server_loop not in floors:
        floors = (*floors, server_loop)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    run = Run(
        {k: str(v) for k, v in vars(args).items()},
        "floor" if server_loop == "asyncio" else "floor-uvloop",
    )
    print(describe(args), flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ostiary-bench-") as tmp:
        for loop in floors:
            run_floor(args, loop, Path(tmp), run)
        for backend in backends:
            run_backend(backend, args, Path(tmp), run)
    print()
    print(table(run))
    print()
    print("\n".join(comparisons(run)))
    for row in run.rows:
        if row.profile:
            print(f"\nserver profile, {row.scenario}/{row.backend} (py-spy, first run):")
            print(row.profile)
    print(f"\ntotal time {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(asdict(run), indent=2))


if __name__ == "__main__":
    main()
