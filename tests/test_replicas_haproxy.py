"""A primary, two read replicas and a real HAProxy (deploy/haproxy.cfg) on loopback, under load.

While threads search through HAProxy: a reindex and two ``add`` jobs run on the primary's home through
the CLI, and one replica is SIGKILLed (its whole process group, as when a machine dies) and restarted.
No request through HAProxy may fail, and every changed article must be served by every replica within
``BOUND`` seconds. The figures (requests, failures, HAProxy's retries, each replica's lag) are printed;
``bench/replicas.py`` runs the same cluster and adds memory.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from searchsvc.sample import SAMPLE_PATH

ROOT = Path(__file__).resolve().parent.parent
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
CLI = [sys.executable, "-c", "from searchsvc.cli import main; main()"]
TOKEN = "replication-test-token"
BOUND = 10.0  # seconds within which a change must be served by every replica
REPLICAS = ("replica1", "replica2")
QUERIES = ("trẻ em", "tre em", "giá vàng", "Hà Nội", "bóng đá", "kinh tế", "thời tiết", "giáo dục")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CUT = -1  # the status began and the body never came: its server died mid-response


def status_of(url: str, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except http.client.IncompleteRead:
        return CUT
    except (OSError, http.client.HTTPException):
        return 0


def wait_until(what: str, check: Any, seconds: float, proc: subprocess.Popen[bytes] | None = None) -> float:
    """Seconds until ``check()`` is true; AssertionError naming ``what`` after ``seconds``."""
    start = time.monotonic()
    while not check():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}")
        if time.monotonic() - start > seconds:
            raise AssertionError(f"{what}: not within {seconds:g} s")
        time.sleep(0.05)
    return time.monotonic() - start


def memory_kib(pgid: int) -> tuple[int, int, int]:
    """(processes, RSS, PSS) of a process group in KiB; PSS splits shared pages (the page cache of mmapped
    index files, libraries) between the processes sharing them, so PSS adds up and RSS does not."""
    procs = rss = pss = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != pgid:
                continue
            with open(f"/proc/{entry}/smaps_rollup") as fh:
                fields = {line.split(":")[0]: int(line.split()[1]) for line in fh if line.split()[-1] == "kB"}
        except (OSError, ValueError, IndexError):
            continue
        procs += 1
        rss += fields.get("Rss", 0)
        pss += fields.get("Pss", 0)
    return procs, rss, pss


def disk_kib(home: Path) -> int:
    """Disk used by an index home, each hard-linked file once."""
    seen: set[int] = set()
    total = 0
    for path in home.rglob("*"):
        st = path.lstat()
        if path.is_file() and st.st_ino not in seen:
            seen.add(st.st_ino)
            total += st.st_blocks * 512 // 1024
    return total


@dataclass
class Cluster:
    work: Path
    env: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    replica_workers: int = 2

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def home(self, name: str) -> Path:
        return self.work / name

    def cli(self, *args: str) -> str:
        done = subprocess.run([*CLI, "--index-dir", str(self.home("primary")), "--quiet", *args], env=self.env,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def start(self, name: str, *extra: str) -> None:
        self.ports.setdefault(name, free_port())
        log = open(self.work / f"{name}.log", "ab")  # noqa: SIM115  # the child keeps it
        self.procs[name] = subprocess.Popen(
            [*CLI, "--index-dir", str(self.home(name)), "--quiet", "serve", "--port", str(self.ports[name]),
             "--threads", "4", *extra], env=self.env, stdout=log, stderr=log, start_new_session=True)
        log.close()

    def start_replica(self, name: str) -> None:
        self.start(name, "--workers", str(self.replica_workers), "--replica-of", self.url("primary"))

    def start_haproxy(self) -> None:
        self.ports["lb"], self.ports["stats"] = free_port(), free_port()
        env = {**self.env, "SEARCHSVC_LB_BIND": f"127.0.0.1:{self.ports['lb']}",
               "SEARCHSVC_LB_STATS": f"127.0.0.1:{self.ports['stats']}",
               "SEARCHSVC_PRIMARY": f"127.0.0.1:{self.ports['primary']}",
               "SEARCHSVC_REPLICA1": f"127.0.0.1:{self.ports['replica1']}",
               "SEARCHSVC_REPLICA2": f"127.0.0.1:{self.ports['replica2']}"}
        log = open(self.work / "haproxy.log", "ab")  # noqa: SIM115
        self.procs["haproxy"] = subprocess.Popen(["haproxy", "-db", "-f", str(HAPROXY_CFG)], env=env, stdout=log,
                                                 stderr=log, start_new_session=True)
        log.close()

    def kill(self, name: str) -> None:
        """SIGKILL to the whole process group: master and workers die at once, mid-request or mid-copy."""
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def haproxy_stats(self) -> dict[str, dict[str, str]]:
        with urllib.request.urlopen(self.url("stats") + "/stats;csv", timeout=5) as response:
            lines = response.read().decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return {f"{r['pxname']}/{r['svname']}": r for r in rows}

    def log(self, name: str) -> str:
        path = self.work / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@contextmanager
def cluster(work: Path, corpus: Path = SAMPLE_PATH, workers: tuple[int, int] = (1, 2)) -> Iterator[Cluster]:
    """Primary (``corpus``, the packaged sample unless told, built by the CLI), two replicas copying it,
    HAProxy in front, all up; ``workers``: gunicorn workers of the primary and of each replica."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    env.update(SEARCHSVC_REPLICATION_TOKEN=TOKEN, SEARCHSVC_REPLICATION_POLL_INTERVAL="0.2",
               SEARCHSVC_PROCS="1")
    c = Cluster(work, env)
    try:
        c.cli("reindex", str(corpus))
        c.start("primary", "--workers", str(workers[0]))
        c.replica_workers = workers[1]
        wait_until("primary up", lambda: status_of(c.url("primary") + "/healthz") == 200, 120, c.procs["primary"])
        for name in ("replica1", "replica2"):
            c.start_replica(name)
        for name in ("replica1", "replica2"):
            wait_until(f"{name} serving its copy", lambda n=name: status_of(c.url(n) + "/healthz") == 200, 120,
                       c.procs[name])
        c.start_haproxy()

        def both_up() -> bool:
            try:
                stats = c.haproxy_stats()
            except OSError:
                return False
            return all(stats[f"replicas/{n}"]["status"] == "UP" for n in ("replica1", "replica2"))

        wait_until("HAProxy sees both replicas up", both_up, 30, c.procs["haproxy"])
        yield c
    except BaseException:
        for name in ("primary", "replica1", "replica2", "haproxy"):
            print(f"--- {name} log (tail)\n{c.log(name)}")
        raise
    finally:
        c.stop()


class Load:
    """``threads`` readers searching through HAProxy, each pausing ``pause`` s between requests (bounded)."""

    def __init__(self, base: str, threads: int = 3, pause: float = 0.01) -> None:
        self.base = base
        self.requests = 0
        self.failures: list[str] = []
        self.cuts: list[float] = []  # monotonic times of responses cut short by a dying server
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i, pause), daemon=True) for i in range(threads)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def _run(self, seed: int, pause: float) -> None:
        n = seed
        while not self._stop.is_set():
            q = urllib.request.quote(QUERIES[n % len(QUERIES)])
            n += 1
            url = f"{self.base}/api/search?q={q}&per_page=5" if n % 4 else f"{self.base}/api/suggest?q=tr"
            code = status_of(url, timeout=10)
            with self._lock:
                self.requests += 1
                if code == CUT:
                    self.cuts.append(time.monotonic())
                elif code != 200:
                    self.failures.append(f"{code} {url}")
            time.sleep(pause)


def write_articles(path: Path, prefix: str, count: int) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    with open(path, "w", encoding="utf-8") as fh:
        for i, article_id in enumerate(ids):
            fh.write(json.dumps({"id": article_id, "title": f"Tin kiểm thử bản sao {prefix} số {i}",
                                 "lead": "Bài viết thêm vào máy chủ chính trong khi tải.",
                                 "body": "Nội dung bài viết để kiểm tra bản sao đọc phía sau HAProxy.",
                                 "category": "Kiểm thử", "tags": ["Bản sao"], "author": "Kiểm thử",
                                 "published": "2024-06-01T08:00:00", "url": f"https://example.vn/{article_id}",
                                 "source": "test"}, ensure_ascii=False) + "\n")
    return ids


def job(c: Cluster, replicas: tuple[str, ...], ids: list[str], *args: str) -> dict[str, float]:
    """Run a CLI job on the primary's home and return each replica's lag: seconds from the job's commit
    (``committed_at``) until the replica, asked directly, serves its articles.

    The replicas are watched while the job runs (the CLI exits a while after it commits), one id at a
    time: a job is one commit, so its articles arrive together, which is checked afterwards.
    """
    cli = subprocess.Popen([*CLI, "--index-dir", str(c.home("primary")), "--quiet", *args], env=c.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: dict[str, float] = {}

    def check() -> bool:
        for r in replicas:
            if r not in seen and status_of(f"{c.url(r)}/api/articles/{ids[-1]}") == 200:
                seen[r] = time.time()
        return len(seen) == len(replicas)

    try:
        wait_until(f"{ids} on {replicas}", check, 300 + BOUND)
    finally:
        _, err = cli.communicate(timeout=300)
    assert cli.returncode == 0, err.decode()
    since = committed_at(c.home("primary"))
    for r in replicas:
        assert all(status_of(f"{c.url(r)}/api/articles/{i}") == 200 for i in ids), (r, ids)
    return {r: seen[r] - since for r in replicas}


def switched(c: Cluster, replicas: tuple[str, ...], lag: dict[str, float]) -> dict[str, float]:
    """The part of each replica's lag before its CURRENT switch (the copy); the rest is serving reopening."""
    since = committed_at(c.home("primary"))
    return {r: os.stat(c.home(r) / "CURRENT").st_mtime - since for r in replicas if r in lag}


def committed_at(home: Path) -> float:
    """When the primary's last commit landed: a reindex replaces CURRENT last, an add rewrites meta.json last
    (the CLI process exits a while after that, so its exit would understate the lag)."""
    current = (home / "CURRENT").read_text().strip()
    return max(os.stat(home / "CURRENT").st_mtime, os.stat(home / current / "meta.json").st_mtime)


def run_scenario(work: Path, pause: float = 0.01, corpus: Path = SAMPLE_PATH,
                 workers: tuple[int, int] = (1, 2)) -> dict[str, Any]:
    """The whole scenario; returns its figures (bench/replicas.py prints them with other settings)."""
    figures: dict[str, Any] = {"lag_s": {}, "workers": {"primary": workers[0], "replica": workers[1]}}
    with cluster(work, corpus, workers) as c, Load(c.url("lb"), pause=pause) as load:
        time.sleep(1.0)
        marker = write_articles(work / "marker.jsonl", "reindex-marker", 1)
        lag = figures["lag_s"]["reindex"] = job(c, REPLICAS, marker, "reindex", str(corpus),
                                                str(work / "marker.jsonl"))
        figures["switch_s"] = {"reindex": switched(c, REPLICAS, lag)}

        first = write_articles(work / "add1.jsonl", "add-one", 3)
        lag = figures["lag_s"]["add1"] = job(c, REPLICAS, first, "add", str(work / "add1.jsonl"))
        figures["switch_s"]["add1"] = switched(c, REPLICAS, lag)

        c.kill("replica2")
        killed = time.monotonic()
        second = write_articles(work / "add2.jsonl", "add-two", 3)
        figures["lag_s"]["add2"] = job(c, ("replica1",), second, "add", str(work / "add2.jsonl"))
        time.sleep(max(0.0, 1.5 - (time.monotonic() - killed)))  # HAProxy has marked it down by now
        restarted = time.time()
        c.start_replica("replica2")
        figures["replica2_restart_to_healthz_s"] = wait_until(
            "replica2 back", lambda: status_of(c.url("replica2") + "/healthz") == 200, 120, c.procs["replica2"])
        up = time.time()
        wait_until("add2 on the restarted replica2",
                   lambda: all(status_of(f"{c.url('replica2')}/api/articles/{i}") == 200 for i in second), 60)
        figures["lag_s"]["add2"]["replica2_after_healthz"] = time.time() - up
        figures["lag_s"]["add2"]["replica2_after_restart"] = time.time() - restarted
        time.sleep(1.0)
        figures["memory_mib"] = {}
        for name in ("primary", "replica1", "replica2", "haproxy"):
            procs, rss, pss = memory_kib(c.procs[name].pid)
            figures["memory_mib"][name] = {"processes": procs, "rss": round(rss / 1024, 1),
                                           "pss": round(pss / 1024, 1)}
        figures["disk_mib"] = {name: round(disk_kib(c.home(name)) / 1024, 1)
                               for name in ("primary", "replica1", "replica2")}
        stats = c.haproxy_stats()
        figures["lb_replication_status"] = status_of(c.url("lb") + "/replication/commit")
    figures["requests"] = load.requests
    figures["failures"] = len(load.failures)
    figures["failure_examples"] = load.failures[:5]
    # A response already on its way when its server is SIGKILLed cannot be retried by any proxy: HAProxy has
    # passed its status on. Counted apart, with how long after the kill each came.
    figures["cut_by_the_kill"] = len(load.cuts)
    figures["cut_after_kill_s"] = [round(t - killed, 3) for t in load.cuts]
    figures["haproxy"] = {key: {"retries": row.get("wretr", ""), "redispatches": row.get("wredis", ""),
                                "sessions": row.get("stot", ""), "5xx": row.get("hrsp_5xx", ""),
                                "status": row.get("status", "")}
                          for key, row in stats.items() if key.startswith("replicas/")}
    figures["loadavg"] = os.getloadavg()
    return figures


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="scripts/install-haproxy.sh installs it")
def test_reads_through_haproxy_survive_reindex_adds_and_a_killed_replica(tmp_path: Path) -> None:
    figures = run_scenario(tmp_path)
    print(json.dumps(figures, indent=1))
    assert figures["requests"] > 100
    assert figures["failures"] == 0, figures["failure_examples"]
    # At most one cut response per reader, each in flight at the instant of the kill; none at any other time.
    assert figures["cut_by_the_kill"] <= 3 and all(-0.5 < t < 1.0 for t in figures["cut_after_kill_s"]), figures
    assert figures["lb_replication_status"] == 403  # the index is not served to the public side
    lags = figures["lag_s"]
    for job in ("reindex", "add1"):
        assert max(lags[job].values()) < BOUND, lags
    assert lags["add2"]["replica1"] < BOUND and lags["add2"]["replica2_after_healthz"] < BOUND, lags
