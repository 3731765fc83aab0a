"""SIGKILL `searchsvc reindex` at random moments while `searchsvc serve` answers queries on loopback.

    python bench/kill_trials.py [--trials 20] [--seed N] [--json]

Builds the packaged sample once (timing it), serves it with gunicorn (2 workers), keeps two client
threads querying, and runs N trials: start `searchsvc reindex --procs 2 SAMPLE`, SIGKILL it after a
random delay between 0 and 1.1 x the measured reindex time (so kills land in start-up, the build,
the replay and the switch; a few trials finish first), then check that no helper process outlived
it and that CURRENT still names a complete generation. A last reindex must succeed and leave no
`*.tmp-*` folder behind. Prints trials, kills, requests and failed requests (which must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import CLI, ENV, serve, stop  # noqa: E402

from searchsvc.model import vocabulary
from searchsvc.sample import SAMPLE_PATH
from searchsvc.store.home import IndexHome

URLS = ("/api/search?q=gi%C3%A1+v%C3%A0ng", "/api/search?q=tre+em&sort=newest", "/healthz",
        "/api/search?q=%22b%C3%B3ng+%C4%91%C3%A1%22", "/api/suggest?q=ha", "/api/tags?prefix=th",
        "/api/search?q=kinh+te&per_page=20&page=2")


class Clients:
    """Threads that query until stopped, counting requests and every failed one (non-200 or no answer)."""

    def __init__(self, base: str, threads: int = 2) -> None:
        self.base = base
        self.requests = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, offset: int) -> None:
        n = offset
        while not self._stop.is_set():
            url = self.base + URLS[n % len(URLS)]
            n += 1
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    response.read()
                    failure = None if response.status == 200 else f"{response.status} {url}"
            except urllib.error.HTTPError as exc:
                failure = f"{exc.code} {url} {exc.read()[:200]!r}"
            except OSError as exc:
                failure = f"{type(exc).__name__} {url} {exc}"
            with self._lock:
                self.requests += 1
                if failure:
                    self.failures.append(failure)

    def __enter__(self) -> Clients:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)


def live_in_group(pgid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


def reindex(home: Path, source: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*CLI, "--index-dir", str(home), "--quiet", "reindex", "--procs", "2", str(source)],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


# When to kill: at a random moment, just after the build's commit (the journal replay and vocabulary
# follow), or at the switch itself (as soon as the vocabulary, the last thing written before meta.json
# and the publish, appears in the build; the GIL-shared polling is late by a few ms, so some finish).
KINDS = ("random", "after-commit", "at-switch")


def kill_at(kind: str, proc: subprocess.Popen[bytes], home: Path, rng: random.Random,
            build_seconds: float, before: int) -> tuple[float, str]:
    """Kill ``proc`` at the moment ``kind`` names; returns (seconds after start, outcome)."""
    started = time.monotonic()
    build = f"gen-*.tmp-{proc.pid}"
    # create_in writes _MAIN_0.toc; the build's commit writes _MAIN_1.toc.
    wanted = {"after-commit": "_MAIN_1.toc", "at-switch": f"{vocabulary.FILE}*"}.get(kind)
    deadline = started + (rng.uniform(0.0, 1.1 * build_seconds) if wanted is None else 20 * build_seconds)
    while proc.poll() is None and time.monotonic() < deadline:
        if wanted is not None and any(next(b.glob(wanted), None) for b in home.glob(build)):
            time.sleep(rng.uniform(0.0, 0.5) if kind == "after-commit" else rng.uniform(0.0, 0.01))
            break
        time.sleep(0.005)
    delay = time.monotonic() - started
    if proc.poll() is not None:
        return delay, "completed" if proc.returncode == 0 else f"failed ({proc.returncode})"
    building = bool(list(home.glob(build)))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if building:
        return delay, "killed while building"
    return delay, "killed after the switch" if IndexHome(home).current().number > before else "killed before building"


def run(trials: int, seed: int, source: Path, home: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.monotonic()
    first = reindex(home, source)
    _, err = first.communicate()
    if first.returncode != 0:
        raise SystemExit(f"the first reindex failed: {err.decode()}")
    build_seconds = time.monotonic() - started
    server, base = serve(home, 2, 300)
    outcomes: list[dict[str, Any]] = []
    try:
        with Clients(base) as clients:
            for trial in range(trials):
                before = IndexHome(home).current().number
                proc = reindex(home, source)
                kind = KINDS[trial % len(KINDS)]
                delay, outcome = kill_at(kind, proc, home, rng, build_seconds, before)
                stderr = proc.stderr.read().decode() if proc.stderr else ""
                if proc.stderr:
                    proc.stderr.close()
                deadline = time.monotonic() + 10
                while live_in_group(proc.pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                orphans = live_in_group(proc.pid)
                for pid in orphans:
                    os.kill(pid, signal.SIGKILL)
                after = IndexHome(home).current().number
                outcomes.append({"trial": trial, "kind": kind, "delay_s": round(delay, 2), "outcome": outcome,
                                 "generation": [before, after], "orphans": len(orphans),
                                 "stderr": stderr.strip()[-300:]})
                print(f"trial {trial + 1:2}/{trials}: {kind:12} {outcome:24} after {delay:5.1f} s; "
                      f"generation {before}->{after}; "
                      f"orphans {len(orphans)}; requests so far {clients.requests}, failed {len(clients.failures)}",
                      flush=True)
            final = reindex(home, source)
            _, err = final.communicate()
            final_ok = final.returncode == 0
            time.sleep(1.0)  # let the clients see the final generation
        leftovers = sorted(p.name for p in home.iterdir() if ".tmp-" in p.name or p.name == "reindex.active")
    finally:
        stop(server)
    return {
        "trials": trials, "seed": seed, "articles": sum(1 for _ in _lines(source)),
        "reindex_seconds": round(build_seconds, 1),
        "killed": sum(o["outcome"].startswith("killed") for o in outcomes),
        "killed_while_building": sum(o["outcome"] == "killed while building" for o in outcomes),
        "by_kind": {k: [o["outcome"] for o in outcomes if o["kind"] == k] for k in KINDS},
        "completed": sum(o["outcome"] == "completed" for o in outcomes),
        "failed_reindexes": [o for o in outcomes if o["outcome"].startswith("failed")],
        "orphans": sum(o["orphans"] for o in outcomes),
        "requests": clients.requests, "failed_requests": len(clients.failures), "failures": clients.failures[:10],
        "final_reindex_ok": final_ok, "final_reindex_error": err.decode()[-500:], "leftovers": leftovers,
        "seconds": round(time.monotonic() - started, 1), "load": os.getloadavg(),
    }


def _lines(path: Path) -> Any:
    import gzip

    with gzip.open(path, "rb") as fh:
        yield from (line for line in fh if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--source", type=Path, default=SAMPLE_PATH, help="JSONL(.gz) to reindex (default: the sample)")
    parser.add_argument("--json", action="store_true", help="also write bench/out/kill_trials.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kill-trials-") as tmp:
        result = run(args.trials, args.seed, args.source, Path(tmp) / "index")
    print(f"trials: {result['trials']} ({result['killed']} killed, {result['killed_while_building']} of them while "
          f"building; {result['completed']} completed first); orphaned helpers: {result['orphans']}")
    for kind, seen in result["by_kind"].items():
        print(f"  {kind}: " + ", ".join(f"{seen.count(o)} {o}" for o in sorted(set(seen))))
    print(f"requests: {result['requests']}; failed requests: {result['failed_requests']}")
    final = "ok" if result["final_reindex_ok"] else "FAILED"
    print(f"final reindex: {final}; leftovers: {result['leftovers'] or 'none'}")
    if args.json:
        out = Path(__file__).parent / "out" / "kill_trials.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    ok = (result["failed_requests"] == 0 and result["final_reindex_ok"] and not result["leftovers"]
          and not result["failed_reindexes"] and result["orphans"] == 0)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
