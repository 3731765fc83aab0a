"""Served load: ``searchsvc serve`` (gunicorn) on loopback under a bounded concurrent load.

The server runs over the index bench/query_latency.py builds (same corpus, tags and cache, built here
if missing). The load is 1,000 distinct queries from the same generator, requested in a Zipf-like
repeat mix (weight of the query of rank r ∝ 1/r^s, s = 1.1; a seeded sample), by ``--connections``
threads each holding one keep-alive ``http.client`` connection, until ``--duration`` seconds or
``--requests`` requests, whichever comes first. A short untimed warm-up opens each worker's engine.
Peak RSS per worker is VmHWM from /proc/<pid>/status of each child of the gunicorn master; peak PSS and
private memory are sampled from /proc/<pid>/smaps_rollup (see ``MemorySampler`` for why both).

    python bench/serve_load.py --limit 2000 --duration 20     # development
    python bench/serve_load.py --json serve_load.json
    python bench/serve_load.py --index-dir bench/out/scaling/index-b35439-s2017-v1-8x --json serve_load_8x.json
"""

from __future__ import annotations

import http.client
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpus as corpus  # noqa: E402
from _server import free_port  # noqa: E402

HOST = "127.0.0.1"
TARGET_RPS = 300.0
TARGET_P99_MS = 150.0
TARGET_RSS_MB = 400.0


def path_for(q: corpus.Query) -> str:
    params = [("q", q.q), ("per_page", "10")] + [("tag", t) for t in q.tags]
    return "/api/search?" + urllib.parse.urlencode(params)


@contextmanager
def server(home: Path, workers: int, log_path: Path,
           exe: Path | None = None) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``searchsvc serve`` (this environment's, or ``exe``) on a free loopback port; stopped (its whole process
    group) on the way out."""
    port = free_port()
    exe = exe or Path(sys.executable).with_name("searchsvc")
    cmd = [str(exe), "--index-dir", str(home), "--quiet", "serve", "--host", HOST, "--port", str(port),
           "--workers", str(workers)]
    with open(log_path, "wb") as log:
        # A session of its own, so stopping it stops the master and every worker, and a Ctrl-C in
        # this terminal reaches only this script, which then stops the server itself.
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(proc, port, log_path)
        yield proc, port
    finally:
        _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"the server exited with {proc.returncode}; see {log_path}")
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            if response.status == 200:
                return
            # The worker opens the index on this first request: any other answer will not change.
            body = response.read().decode("utf-8", "replace")[:300]
            raise click.ClickException(f"the server answers /healthz with {response.status}: {body}")
        except (ConnectionError, http.client.HTTPException):
            pass  # not listening yet
        finally:
            conn.close()
        time.sleep(0.2)
    raise click.ClickException(f"the server did not answer /healthz within {timeout:.0f} s; see {log_path}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # gunicorn: graceful shutdown of master and workers
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: processes whose parent is the master."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text(encoding="ascii", errors="replace")
        except OSError:
            continue  # exited meanwhile
        # Field 4 is the parent pid; field 2, the command, may contain spaces and parentheses.
        if int(text.rsplit(")", 1)[1].split()[1]) == master:
            children.append(int(stat.parent.name))
    return sorted(children)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pids: list[int], idle_cpu: float = 0.02, step: float = 0.5, limit: float = 60.0) -> float:
    """Wait until the idle workers use under ``idle_cpu`` CPU seconds per ``step``: each builds its
    suggestion tables and reads the common words in the background after it opens an index (seconds of
    CPU), which would otherwise be timed as part of the load. Returns the seconds waited."""
    started = time.perf_counter()
    last = [cpu_seconds(pid) for pid in pids]
    while time.perf_counter() - started < limit:
        time.sleep(step)
        now = [cpu_seconds(pid) for pid in pids]
        if all(b - a < idle_cpu for a, b in zip(last, now)):
            break
        last = now
    return time.perf_counter() - started


def rollup_kb(pid: int) -> dict[str, int]:
    """/proc/<pid>/smaps_rollup: Rss, Pss, Private_Clean, Private_Dirty, Anonymous, ... in kB."""
    out = {}
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii").splitlines()
    except OSError:
        return {}
    for line in lines[1:]:
        name, _, rest = line.partition(":")
        if rest.split():
            out[name] = int(rest.split()[0])
    return out


class MemorySampler(threading.Thread):
    """Peak proportional (Pss) and private memory of each worker, sampled every half second.

    VmHWM counts every page of the memory-mapped index a worker has touched, although those pages are
    the kernel's page cache, shared by all workers (and by the next reindex's readers); Pss charges
    each worker its share of them, and private memory is what only that worker holds.
    """

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak: dict[int, dict[str, float]] = {pid: {"pss_mb": 0.0, "private_mb": 0.0} for pid in pids}
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.5):
            self.sample()

    def sample(self) -> None:
        for pid in self.pids:
            r = rollup_kb(pid)
            if r:
                peak = self.peak[pid]
                peak["pss_mb"] = max(peak["pss_mb"], r.get("Pss", 0) / 1024)
                private = (r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)) / 1024
                peak["private_mb"] = max(peak["private_mb"], private)


class Load:
    """Threads, each with one keep-alive connection, taking the next path of a shared sequence."""

    def __init__(self, port: int, paths: Sequence[str], connections: int, duration: float) -> None:
        self.port = port
        self.paths = paths
        self.connections = connections
        self.duration = duration
        self._next = 0
        self._lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.stop = threading.Event()

    def _take(self) -> str | None:
        with self._lock:
            if self._next >= len(self.paths) or self.stop.is_set():
                return None
            self._next += 1
            return self.paths[self._next - 1]

    def _error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def _client(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        mine: list[float] = []
        try:
            while (path := self._take()) is not None:
                t0 = time.perf_counter()
                try:
                    conn.request("GET", path, headers={"Accept-Encoding": "identity"})
                    response = conn.getresponse()
                    response.read()
                    elapsed = (time.perf_counter() - t0) * 1000
                    if response.status == 200:
                        mine.append(elapsed)
                    else:
                        self._error(f"HTTP {response.status}")
                except (OSError, http.client.HTTPException) as exc:
                    self._error(type(exc).__name__)
                    conn.close()  # http.client reconnects on the next request
        finally:
            conn.close()
            with self._lock:
                self.latencies += mine

    def run(self) -> float:
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.connections)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        deadline = start + self.duration
        try:
            while any(t.is_alive() for t in threads):
                if time.perf_counter() >= deadline:
                    self.stop.set()
                time.sleep(0.02)
        except BaseException:
            self.stop.set()
            raise
        return time.perf_counter() - start


def zipf_paths(queries: Sequence[corpus.Query], n: int, s: float, seed: int) -> list[str]:
    weights = [1 / (rank ** s) for rank in range(1, len(queries) + 1)]
    rng = random.Random(seed)
    return [path_for(q) for q in rng.choices(queries, weights=weights, k=n)]


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Index only the first N records.")
@click.option("--distinct", type=click.IntRange(min=1), default=1000, show_default=True, help="Distinct queries.")
@click.option("--zipf", "zipf_s", type=float, default=1.1, show_default=True, help="Zipf exponent of the mix.")
@click.option("--connections", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--duration", type=click.FloatRange(min=1), default=60.0, show_default=True, help="Seconds, at most.")
@click.option("--requests", "max_requests", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Requests, at most.")
@click.option("--warmup", type=click.IntRange(min=0), default=200, show_default=True, help="Untimed requests first.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--seed", type=int, default=2017, show_default=True)
@click.option("--rebuild", is_flag=True, help="Rebuild the cached index.")
@click.option("--index-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Serve this index home instead (one bench/scaling.py built: it carries bench.json); "
                   "the queries still come from baomoi (--limit), which every scaling size holds.")
@click.option("--json", "json_name", default=None, help="Write the figures to bench/out/NAME.")
def main(limit: int | None, distinct: int, zipf_s: float, connections: int, duration: float, max_requests: int,
         warmup: int, workers: int, seed: int, rebuild: bool, index_dir: Path | None, json_name: str | None) -> None:
    """Requests/s, latency percentiles, errors and peak RSS per worker of `searchsvc serve`."""
    articles, vocab = corpus.load_articles(limit)
    queries = corpus.make_queries(articles, vocab, distinct, seed)
    home = index_dir or corpus.searchsvc_index(articles, limit, rebuild)
    if not (home / "bench.json").exists():
        raise click.BadParameter(f"{home} has no bench.json (build it with bench/scaling.py)", param_hint="--index-dir")
    paths = zipf_paths(queries, max_requests, zipf_s, seed)
    warm = zipf_paths(queries, warmup, zipf_s, seed + 1)
    del articles  # the client process need not hold the corpus during the run
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the server is stopped either way.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored

    log_path = corpus.OUT / "serve_load.server.log"
    with server(home, workers, log_path) as (proc, port):
        Load(port, warm, connections, duration).run()
        pids = worker_pids(proc.pid)
        settled = settle(pids)
        print(f"workers idle {settled:.1f} s after the warm-up (their background warm-up done)", file=sys.stderr)
        load_before = corpus.uptime()
        sampler = MemorySampler(pids)
        sampler.start()
        load = Load(port, paths, connections, duration)
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        workers_before = sum(cpu_seconds(pid) for pid in pids)
        seconds = load.run()
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        workers_cpu = sum(cpu_seconds(pid) for pid in pids) - workers_before
        client_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
        sampler.halt.set()
        sampler.join()
        sampler.sample()
        load_after = corpus.uptime()
        rss = {pid: {"peak_mb": status_kb(pid, "VmHWM") / 1024, "rss_mb": status_kb(pid, "VmRSS") / 1024,
                     **sampler.peak[pid]} for pid in pids}

    lat = corpus.percentiles(load.latencies)
    done = len(load.latencies) + sum(load.errors.values())
    rps = done / seconds if seconds else 0.0
    errors = sum(load.errors.values())
    peak = max((r["peak_mb"] for r in rss.values()), default=0.0)
    info = corpus.index_info(home)
    print(f"{info['articles']:,} articles, index {info['index_bytes'] / 2**20:.0f} MiB; {distinct} distinct "
          f"queries, Zipf s={zipf_s}; {connections} connections, {workers} workers; {seconds:.1f} s")
    rows = [["requests", "req/s", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors",
             "peak RSS/worker MB", "peak PSS MB", "peak private MB"]]
    rows.append([f"{done:,}", f"{rps:.0f}"] + [f"{lat.get(k, 0):.1f}" for k in ("mean", "p50", "p95", "p99", "max")]
                + [str(errors)] + [" / ".join(f"{r[k]:.0f}" for r in rss.values())
                                   for k in ("peak_mb", "pss_mb", "private_mb")])
    print(corpus.table(rows))
    if load.errors:
        print("errors: " + ", ".join(f"{k} × {n}" for k, n in sorted(load.errors.items())))
    # Two targets, judged apart: the served one (issue 15's, without the answer cache) and memory per worker,
    # where peak RSS also counts the mapped index's pages, which both workers share with the page cache.
    served = rps >= TARGET_RPS and lat.get("p99", 1e9) <= TARGET_P99_MS and errors == 0
    private = max((r["private_mb"] for r in rss.values()), default=0.0)
    ok = served and peak <= TARGET_RSS_MB
    verdict = {True: "met", False: "MISSED"}
    print(f"target >= {TARGET_RPS:.0f} req/s, p99 <= {TARGET_P99_MS:.0f} ms, 0 errors: {verdict[served]}; "
          f"<= {TARGET_RSS_MB:.0f} MB per worker: peak RSS {peak:.0f} MB {verdict[peak <= TARGET_RSS_MB]}, "
          f"private {private:.0f} MB {verdict[private <= TARGET_RSS_MB]}")
    cores = os.cpu_count() or 1
    print(f"CPU during the run: workers {workers_cpu:.1f} s, this load generator {client_cpu:.1f} s, of "
          f"{cores} cores × {seconds:.1f} s = {cores * seconds:.1f} s; workers' CPU per request "
          f"{1000 * workers_cpu / max(1, done):.2f} ms")
    print(f"{load_before} (before) / {load_after} (after)")
    if json_name:
        out = corpus.OUT / Path(json_name).name
        result: dict[str, Any] = {
            "corpus": corpus.size_label(limit), **info, "distinct_queries": distinct, "zipf_s": zipf_s,
            "connections": connections, "workers": workers, "seconds": seconds, "requests": done, "rps": rps,
            "latency_ms": lat, "errors": load.errors, "workers_rss_mb": rss, "target_met": ok,
            "served_target_met": served,
            "load_before": load_before, "load_after": load_after, "workers_cpu_s": workers_cpu,
            "client_cpu_s": client_cpu,
        }
        out.write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
