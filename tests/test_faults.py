"""SIGKILL a running ``searchsvc reindex`` again and again while a client keeps querying.

CI-sized version of ``bench/kill_trials.py``: ten trials over the packaged sample (~394 articles),
each killed at a random moment (most while it builds, some before it has even taken its lock),
with an ``add`` landing during most of them. Expected: not one failed request, CURRENT never
moves, no helper process outlives its killed parent, and the next reindex succeeds with nothing to
clean by hand.

A killed reindex reads the sample from a stdin the test never closes: on a quiet machine the whole
sample is indexed in a few seconds, and a reindex that finished before its kill would publish and
rightly move CURRENT. Held open, the input keeps every kill before publication, wherever it lands
(start-up, reading, indexing, or waiting for the rest of the input with every article indexed).
"""

from __future__ import annotations

import gzip
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from searchsvc.articles import Article
from searchsvc.sample import SAMPLE_PATH
from searchsvc.search.engine import Engine
from searchsvc.store import writer
from searchsvc.store.home import IndexHome
from searchsvc.web.app import create_app

TRIALS = 10
SEED_ARTICLES = [Article(id=f"s{i}", title=f"Giá vàng tăng phiên {i}", body="Trẻ em vùng cao đến trường.",
                         tags=("Giá vàng",)) for i in range(7)]
QUERIES = ("/api/search?q=gi%C3%A1+v%C3%A0ng", "/api/search?q=tre+em&sort=newest", "/healthz",
           "/api/search?q=%22c%C3%B4ng+ngh%E1%BB%87%22", "/api/suggest?q=ha", "/api/tags?prefix=tr")


class Querier(threading.Thread):
    """Queries the in-process app until stopped; keeps every non-200 answer."""

    def __init__(self, home: Path) -> None:
        super().__init__(daemon=True)
        self.client = create_app({"INDEX_DIR": str(home), "TESTING": True, "RELOAD_INTERVAL": 0.0}).test_client()
        self.requests = 0
        self.failures: list[tuple[str, int, bytes]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for url in QUERIES:
                response = self.client.get(url)
                self.requests += 1
                if response.status_code != 200:
                    self.failures.append((url, response.status_code, response.data[:300]))
            time.sleep(0.01)


def reindex_cmd(home: Path, source: str) -> list[str]:
    return [sys.executable, "-c", "from searchsvc.cli import main; main()", "--index-dir", str(home), "--quiet",
            "reindex", "--procs", "2", source]


def spawn(home: Path, held_open: bool = True) -> subprocess.Popen[bytes]:
    """A reindex of the sample; ``held_open``: fed through stdin, which stays open (it cannot finish)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    proc = subprocess.Popen(reindex_cmd(home, "-" if held_open else str(SAMPLE_PATH)), env=env,
                            stdin=subprocess.PIPE if held_open else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    if held_open:
        threading.Thread(target=_feed, args=(proc,), daemon=True).start()
    return proc


def _feed(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(gzip.decompress(SAMPLE_PATH.read_bytes()))
        proc.stdin.flush()
    except (BrokenPipeError, ValueError):
        pass  # killed (or its stdin closed) before it read everything


def live_in_group(pgid: int) -> list[int]:
    """Processes of a process group that are still running (zombies do not count)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


def wait_for_build(home: Path, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if list(home.glob(f"gen-*.tmp-{proc.pid}")):
            return True
        time.sleep(0.02)
    return False


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_sigkilled_reindex_never_fails_a_request_and_the_next_reindex_succeeds(tmp_path: Path) -> None:
    home = tmp_path / "index"
    writer.build_index(SEED_ARTICLES, home)
    rng = random.Random(int(os.environ.get("SEARCHSVC_FAULT_SEED", "20240611")))
    querier = Querier(home)
    querier.start()
    groups: list[int] = []
    added: list[str] = []
    try:
        for trial in range(TRIALS):
            proc = spawn(home)
            groups.append(proc.pid)  # start_new_session: the pid is the group id
            if trial % 3 == 2:
                time.sleep(rng.uniform(0.2, 5.0))  # anywhere from interpreter start-up on
            else:
                assert wait_for_build(home, proc), proc.stderr.read().decode() if proc.stderr else ""
                article = Article(id=f"trial-{trial}", title=f"Tin thử nghiệm số {trial}", body="Nội dung thử nghiệm.")
                writer.add(IndexHome(home), [article])  # journaled for a reindex that will never replay it
                added.append(article.id)
                time.sleep(rng.uniform(0.0, 3.0))
            assert proc.poll() is None, f"trial {trial}: the reindex ended before its kill"
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            for pipe in (proc.stdin, proc.stderr):
                try:
                    if pipe:
                        pipe.close()
                except BrokenPipeError:
                    pass
            deadline = time.monotonic() + 10
            while live_in_group(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert live_in_group(proc.pid) == [], f"trial {trial}: helpers outlived the killed reindex"
            assert IndexHome(home).current().number == 1
        # Every add made while a killed reindex was building is still served.
        assert set(added) <= {f["id"] for _, f in Engine.open(home).snapshot.documents()}

        final = spawn(home, held_open=False)
        groups.append(final.pid)
        _, err = final.communicate(timeout=300)
        assert final.returncode == 0, err.decode()
        assert IndexHome(home).current().number >= 2
        assert querier.client.get("/healthz").get_json()["doc_count"] == 394
    finally:
        querier.stop.set()
        querier.join(30)
        for pgid in groups:
            kill_group(pgid)
    leftovers = sorted(p.name for p in home.iterdir() if ".tmp-" in p.name or p.name == "reindex.active")
    assert leftovers == []
    assert not IndexHome(home).journal.exists()
    assert querier.requests > 0
    assert querier.failures == [], querier.failures[:5]
