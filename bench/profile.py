"""Summaries of py-spy profiles (``py-spy record --format raw``: collapsed stacks).

``python -m bench.profile FILE [--top N]`` prints where the sampled time went:

* by thread kind: the event loop (main thread) or worker threads (aiosqlite's connection
  threads, the loop's default executor);
* by area: the library whose code was on top of the stack (self time);
* the top functions by self time and by inclusive time (a function counted once per sample
  however often it recurs in the stack).

Percentages are of all samples py-spy kept: without ``--gil`` it leaves out threads it sees
waiting; with ``--gil`` a sample with no thread holding the GIL is counted as "no Python
stack".
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

NO_STACK = "no Python stack"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")

AREAS: tuple[tuple[str, str], ...] = (
    ("ostiary/", "ostiary"),
    ("starlette/", "starlette"),
    ("uvicorn/", "uvicorn"),
    ("httptools/", "uvicorn"),
    ("sqlalchemy/", "sqlalchemy"),
    ("aiosqlite/", "aiosqlite"),
    ("sqlite3/", "sqlite3"),
    ("asyncpg/", "asyncpg"),
    ("joserfc/", "joserfc (JWT)"),
    ("cryptography/", "cryptography"),
    ("json/", "json"),
    ("asyncio/", "asyncio"),
    ("uvloop/", "asyncio"),
    ("selectors.py", "asyncio"),
    ("hmac.py", "stdlib hmac/random/base64"),
    ("random.py", "stdlib hmac/random/base64"),
    ("secrets.py", "stdlib hmac/random/base64"),
    ("base64.py", "stdlib hmac/random/base64"),
    ("threading.py", "threads/queues"),
    ("queue.py", "threads/queues"),
    ("concurrent/", "threads/queues"),
    ("urllib/", "urllib"),
)


#: Parts of a token request, by the function whose inclusive time stands for each (matched on
#: the function name py-spy prints; a part whose function no longer exists just shows nothing).
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("whole ASGI app (middleware, routing, endpoint)", "PublicCors.__call__"),
    ("token endpoint handler", "MachineEndpoints.token"),
    ("  read_form (body + parse_qs)", "read_form"),
    ("  client authentication", "authenticate_client"),
    ("  JWT signing", "JwtSigner.sign"),
    ("  sealing the successor (HKDF + AES-GCM)", "TokenSealer.seal"),
    ("  token hashing (HMAC)", "TokenHasher.hash"),
    ("  json_response", "json_response"),
    ("  store: get_client", "SqlStorage.get_client"),
    ("  store: get_refresh_token", "SqlStorage.get_refresh_token"),
    ("  store: rotate_refresh_token", "SqlStorage.rotate_refresh_token"),
    ("  store: consume_authorization_code", "SqlStorage.consume_authorization_code"),
    ("  store: get_grant", "SqlStorage.get_grant"),
    ("  store: save_refresh_token", "SqlStorage.save_refresh_token"),
    ("response send (uvicorn, socket write)", "PublicCors.__call__.<locals>.send_with_cors"),
    ("SQLite worker thread, busy", "ThreadRunner._call"),
    ("SQLAlchemy Connection.execute (any thread)", "Connection.execute"),
)


def frame_key(frame: str) -> tuple[str, str]:
    """(function, file) of a py-spy frame such as ``run (asyncio/runners.py:118)``."""
    found = _FRAME.match(frame)
    if found is None:
        return frame, ""
    return found["func"], found["file"]


def area_of(file: str) -> str:
    for prefix, area in AREAS:
        if file.startswith(prefix) or f"/{prefix}" in file:
            return area
    return "other"


@dataclass
class Profile:
    total: int = 0
    by_thread: Counter[str] = field(default_factory=Counter)
    by_area: Counter[str] = field(default_factory=Counter)
    self_time: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    parts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def parse(cls, text: str) -> Profile:
        profile = cls()
        for line in text.splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [frame_key(f) for f in stack.split(";") if f]
            profile.total += count
            if not frames:  # py-spy --gil: no thread held the GIL (native code, waiting)
                profile.by_thread[NO_STACK] += count
                profile.by_area[NO_STACK] += count
                continue
            worker = any(fn.endswith("_bootstrap") and "threading" in fl for fn, fl in frames)
            profile.by_thread["worker threads" if worker else "event loop"] += count
            func, file = frames[-1]
            profile.by_area[area_of(file)] += count
            profile.self_time[f"{func} ({file})"] += count
            for name in {f"{fn} ({fl})" for fn, fl in frames}:
                profile.inclusive[name] += count
            present = {fn for fn, _ in frames}
            for label, function in COMPONENTS:
                if function in present:
                    profile.parts[label] += count
        return profile

    def report(self, top: int = 15) -> str:
        if not self.total:
            return "  (no samples)"

        def pct(n: int) -> str:
            return f"{100.0 * n / self.total:5.1f}%"

        lines = [f"  samples: {self.total}"]
        lines.append(
            "  by thread: " + ", ".join(f"{k} {pct(v)}" for k, v in self.by_thread.most_common())
        )
        lines.append("  parts of a token request (inclusive):")
        lines += [f"    {pct(self.parts[k])}  {k}" for k, _ in COMPONENTS if self.parts[k]]
        lines.append("  self time by area:")
        lines += [f"    {pct(v)}  {k}" for k, v in self.by_area.most_common()]
        lines.append(f"  top {top} functions by self time:")
        lines += [f"    {pct(v)}  {k}" for k, v in self.self_time.most_common(top)]
        lines.append(f"  top {top} ostiary functions by inclusive time:")
        mine = Counter({k: v for k, v in self.inclusive.items() if "(ostiary/" in k})
        lines += [f"    {pct(v)}  {k}" for k, v in mine.most_common(top)]
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(Profile.parse(args.file.read_text()).report(args.top))


if __name__ == "__main__":
    main()
