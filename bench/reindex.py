"""Full reindex of baomoi_2017 through the product path, against pyvi alone and SQLite FTS5.

Three measurements of the same articles, in one run:

* **searchsvc**: ``reindex(IndexHome(tmp), read_sources([corpus]), procs=N)``, reading the gzip
  included, exactly as ``searchsvc reindex`` does it (vocabulary and publication included).
* **pyvi floor**: ``pyvi.ViTokenizer.tokenize`` on the title, lead and body of every article, in one
  process. Segmentation is the irreducible part of our analysis, so ``wall ÷ (floor ÷ procs)`` says
  how close the whole reindex comes to "pyvi on every core".
* **FTS5**: the same title/lead/body in SQLite FTS5 (``unicode61 remove_diacritics 2``), one
  transaction, for scale.

Peak memory is the largest sum, over the reindex's process tree (this process and every descendant),
of RSS and of PSS (proportional set size: pages shared after ``fork`` count once), sampled from
/proc every 0.2 s. The machine's load average is printed with the figures: other work on the machine
slows everything down, so compare CPU seconds when it is busy.

    python bench/reindex.py                      # everything, all cores
    python bench/reindex.py --limit 2000 --procs 2 --json bench/out/reindex_2000.json
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

import click

from searchsvc.articles import Article
from searchsvc.ingest import read_sources
from searchsvc.store.home import IndexHome
from searchsvc.store.writer import reindex

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "news" / "baomoi_2017.jsonl.gz"
OUT = Path(__file__).resolve().parent / "out"
SAMPLE_SECONDS = 0.2


@dataclass
class Figures:
    system: str
    docs: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float | None = None
    peak_pss_mb: float | None = None

    @property
    def docs_per_s(self) -> float:
        return self.docs / self.wall_s if self.wall_s else 0.0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB, from /proc/<pid>/smaps_rollup."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


class TreeMemory:
    """Samples the summed RSS and PSS of this process and its descendants; keeps the peaks."""

    def __init__(self) -> None:
        self.peak_rss_kb = self.peak_pss_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = pss = 0
            for pid in _descendants(os.getpid()):
                r, p = _memory_kb(pid)
                rss, pss = rss + r, pss + p
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _articles(corpus: Path, limit: int | None) -> Iterator[Article]:
    items = read_sources([str(corpus)])
    for item in islice(items, limit) if limit else items:
        if isinstance(item, Article):
            yield item


def run_searchsvc(corpus: Path, limit: int | None, procs: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="bench-reindex-") as tmp:
        items = read_sources([str(corpus)])
        items = islice(items, limit) if limit else items
        cpu0, wall0 = _cpu_seconds(), time.perf_counter()
        with TreeMemory() as memory:
            report = reindex(IndexHome(Path(tmp)), items, procs=procs)
        wall, cpu = time.perf_counter() - wall0, _cpu_seconds() - cpu0
    return Figures(f"searchsvc reindex, {procs} procs", report.indexed, wall, cpu,
                   memory.peak_rss_kb / 1024, memory.peak_pss_kb / 1024)


def run_pyvi(articles: list[Article]) -> Figures:
    from pyvi import ViTokenizer

    texts = [t for a in articles for t in (a.title, a.lead, a.body) if t]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for text in texts:
        ViTokenizer.tokenize(text)
    return Figures("pyvi ViTokenizer alone, 1 proc", len(articles), time.perf_counter() - wall0,
                   time.process_time() - cpu0)


def run_fts5(articles: list[Article]) -> Figures:
    with tempfile.TemporaryDirectory(prefix="bench-fts5-") as tmp:
        db = sqlite3.connect(Path(tmp) / "fts.sqlite")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        db.execute('CREATE VIRTUAL TABLE docs USING fts5(title, lead, body, '
                   'tokenize="unicode61 remove_diacritics 2")')
        with db:  # one transaction
            db.executemany("INSERT INTO docs (title, lead, body) VALUES (?, ?, ?)",
                           ((a.title, a.lead, a.body) for a in articles))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        db.close()
    return Figures("SQLite FTS5 unicode61, 1 proc", len(articles), wall, cpu)


def _table(rows: list[Figures], ratio: float, load: tuple[float, float]) -> str:
    head = f"{'system':34} {'docs':>7} {'wall s':>8} {'docs/s':>8} {'CPU s':>8} {'peak RSS MB':>12} {'peak PSS MB':>12}"
    lines = [head, "-" * len(head)]
    for r in rows:
        rss = f"{r.peak_rss_mb:12.0f}" if r.peak_rss_mb is not None else f"{'':>12}"
        pss = f"{r.peak_pss_mb:12.0f}" if r.peak_pss_mb is not None else f"{'':>12}"
        lines.append(f"{r.system:34} {r.docs:7d} {r.wall_s:8.1f} {r.docs_per_s:8.1f} {r.cpu_s:8.1f} {rss} {pss}")
    lines.append(f"ratio  reindex wall ÷ (pyvi wall ÷ procs) = {ratio:.2f}   "
                 f"load average before/after: {load[0]:.2f} / {load[1]:.2f} on {os.cpu_count()} CPUs")
    return "\n".join(lines)


@click.command()
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=CORPUS,
              show_default=True)
@click.option("--limit", type=int, default=None, help="Only the first N records.")
@click.option("--procs", type=int, default=os.cpu_count() or 1, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              default=OUT / "reindex.json", show_default=True)
@click.option("--skip-peers", is_flag=True, help="Only the searchsvc reindex (no pyvi floor, no FTS5).")
def main(corpus: Path, limit: int | None, procs: int, json_path: Path, skip_peers: bool) -> None:
    load_before = os.getloadavg()[0]
    rows = [run_searchsvc(corpus, limit, procs)]
    ratio = float("nan")
    if not skip_peers:
        articles = list(_articles(corpus, limit))
        floor = run_pyvi(articles)
        rows += [floor, run_fts5(articles)]
        ratio = rows[0].wall_s / (floor.wall_s / procs)
    load = (load_before, os.getloadavg()[0])
    click.echo(_table(rows, ratio, load))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({
        "corpus": str(corpus), "limit": limit, "procs": procs, "cpus": os.cpu_count(),
        "load_average_before": load[0], "load_average_after": load[1], "ratio_wall_to_floor_per_proc": ratio,
        "memory": "peak of the summed RSS / PSS of the process tree, sampled from /proc every 0.2 s",
        "rows": [{**asdict(r), "docs_per_s": r.docs_per_s} for r in rows],
    }, indent=2), encoding="utf-8")
    click.echo(f"wrote {json_path}")


if __name__ == "__main__":
    main()
