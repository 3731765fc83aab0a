"""A reindex on a Dask cluster against the local ``--procs`` reindex, on the same baomoi articles, in one run.

* **local**: ``reindex(home, articles, procs=W)``: worker processes forked here build the segments.
* **cluster**: ``reindex(home, articles, executor=DaskExecutor)`` on a ``LocalCluster`` of W worker processes
  on loopback (or ``--scheduler`` for a real one): the same segment building in the workers' scratch folders,
  the finished segment files shipped back as bytes and written here.

Both read the same article list from memory (the gzip is read once, before either), so the difference is the
executor: pickling and shipping chunks, shipping segment files back, writing them, and the tail (vocabulary,
publication) that both pay. CPU is summed over this process tree (the LocalCluster's workers are children
of this process, and its scheduler runs in this one), from /proc and rusage. The cluster's workers are
started and warmed (pyvi loaded) before the
clock starts: a standing cluster is warm; that start-up is printed apart.

Then the arithmetic for N machines, from this run's own figures: the workers' CPU seconds per article, the
coordinator's serial CPU per article (reading, pickling, writing what comes back), the bytes shipped per
article over a link of ``--link-gbit``, and the tail.

    python bench/cluster_reindex.py --limit 2000        # a smoke run
    python bench/cluster_reindex.py                     # all of baomoi (35,440 articles): run it alone
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import click
from whoosh import index as whoosh_index

from searchsvc.articles import Article
from searchsvc.ingest import read_sources
from searchsvc.model import vocabulary
from searchsvc.store import cluster
from searchsvc.store.home import IndexHome
from searchsvc.store.writer import reindex

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "news" / "baomoi_2017.jsonl.gz"
OUT = Path(__file__).resolve().parent / "out"
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    system: str
    docs: int
    wall_s: float
    cpu_s: float
    segments: int
    index_mb: float
    tasks: int = 0
    mb_out: float = 0.0
    mb_in: float = 0.0
    worker_cpu_s: float = 0.0
    coordinator_cpu_s: float = 0.0


def _tree_cpu() -> float:
    """CPU seconds of this process and every live descendant (utime + stime from /proc/<pid>/stat)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[bytes]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    raw = fh.read()
            except OSError:
                continue
            fields = raw[raw.rindex(b")") + 2:].split()
            stats[int(entry)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += int(stats[pid][11]) + int(stats[pid][12])
        todo.extend(children.get(pid, []))
    return total / _TICKS


def _cpu() -> float:
    """This tree's CPU: live processes from /proc (the cluster's workers), finished children from rusage (the
    local reindex's forked workers, reaped when it ends)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return _tree_cpu() + kids.ru_utime + kids.ru_stime


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _measure(name: str, articles: list[Article], **kwargs: Any) -> tuple[Run, float]:
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        home = IndexHome(Path(tmp))
        cpu0, own0, wall0 = _cpu(), time.process_time(), time.perf_counter()
        report = reindex(home, articles, **kwargs)
        wall, cpu, own = time.perf_counter() - wall0, _cpu() - cpu0, time.process_time() - own0
        gen = home.current()
        segments = len(whoosh_index.open_dir(str(gen.path))._segments())
        tail_cpu = time.process_time()
        with whoosh_index.open_dir(str(gen.path)).searcher() as s:
            vocabulary.build(s.reader())
        # The vocabulary, again: the larger part of what follows the last segment, serial in the coordinator.
        tail_cpu = time.process_time() - tail_cpu
        run = Run(name, report.indexed, wall, cpu, segments, _size_mb(gen.path),
                  coordinator_cpu_s=max(0.0, own - tail_cpu))
    return run, tail_cpu  # CPU, not wall: on a loaded machine the wall says more about the load than the tail


def _warm(client: Any) -> None:
    def load() -> None:
        from searchsvc.analysis import analyse

        analyse("Trẻ em Việt Nam")  # loads pyvi and its model, as a local reindex's parent has before forking

    client.run(load)


def _arithmetic(c: Run, local: Run, tail_s: float, cores: int, link_gbit: float) -> list[str]:
    per_doc_worker = c.worker_cpu_s / c.docs
    per_doc_coord = c.coordinator_cpu_s / c.docs
    per_doc_bytes = (c.mb_out + c.mb_in) * 1e6 / c.docs
    docs = 35_440
    lines = [f"N machines of {cores} worker processes, {link_gbit:g} Gbit/s to the coordinator, all {docs:,} baomoi "
             f"articles; per article: worker CPU {per_doc_worker * 1000:.1f} ms, coordinator CPU (tail apart) "
             f"{per_doc_coord * 1000:.2f} ms, {per_doc_bytes / 1e3:.0f} kB shipped; tail {tail_s:.1f} CPU s here "
             f"for {c.docs:,} (scaled by articles: an upper bound, the vocabulary grows slower than the corpus)",
             "  T(N) ≈ max(worker CPU ÷ (N × cores), coordinator CPU, bytes ÷ link) + tail",
             f"  {'N':>3} {'workers s':>10} {'coordinator s':>14} {'link s':>8} {'tail s':>7} {'T(N) s':>8} "
             f"{'vs local':>9}"]
    tail = tail_s * docs / c.docs
    # The local reindex by the same model, from its CPU: its workers' share over ``cores``, then the same tail.
    local_full = max(0.0, local.cpu_s - tail_s) / local.docs * docs / cores + tail
    for n in (1, 2, 4, 8, 16, 32):
        work = per_doc_worker * docs / (n * cores)
        coord = per_doc_coord * docs
        link = per_doc_bytes * docs * 8 / (link_gbit * 1e9)
        total = max(work, coord, link) + tail
        lines.append(f"  {n:3d} {work:10.1f} {coord:14.1f} {link:8.1f} {tail:7.1f} {total:8.1f} "
                     f"{local_full / total:8.2f}x")
    lines.append(f"  (local --procs {cores} by the same model: {local_full:.1f} s; the coordinator, the link and "
                 "the tail bound the speed-up once the workers stop being the slowest part)")
    return lines


@click.command()
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=CORPUS,
              show_default=True)
@click.option("--limit", type=int, default=None, help="Only the first N records (the whole corpus by default).")
@click.option("--workers", type=int, default=2, show_default=True, help="Local procs = LocalCluster workers.")
@click.option("--chunk-mb", type=float, default=16.0, show_default=True, help="Pickled articles per task.")
@click.option("--scheduler", default=None, help="A running cluster instead of a LocalCluster.")
@click.option("--link-gbit", type=float, default=1.0, show_default=True, help="For the N-machine arithmetic.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              default=OUT / "cluster_reindex.json", show_default=True)
def main(corpus: Path, limit: int | None, workers: int, chunk_mb: float, scheduler: str | None, link_gbit: float,
         json_path: Path) -> None:
    from distributed import LocalCluster

    items = read_sources([str(corpus)])
    articles = [a for a in (islice(items, limit) if limit else items) if isinstance(a, Article)]
    load_before = os.getloadavg()
    local, _ = _measure(f"local --procs {workers}", articles, procs=workers)

    started = time.perf_counter()
    lc = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                             host="127.0.0.1", dashboard_address=":0")
    try:
        with cluster.connect(scheduler or lc.scheduler_address, 60, chunk_mb) as executor:  # type: ignore[union-attr]
            _warm(executor.client)
            startup = time.perf_counter() - started
            run, tail = _measure(f"Dask LocalCluster({workers})" if lc else f"Dask {scheduler}", articles,
                                 executor=executor)
            s = executor.stats
            run.tasks, run.mb_out, run.mb_in, run.worker_cpu_s = s.tasks, s.bytes_out / 1e6, s.bytes_in / 1e6, \
                s.worker_cpu
    finally:
        if lc is not None:
            lc.close()
    load_after = os.getloadavg()

    head = f"{'system':26} {'docs':>6} {'wall s':>7} {'CPU s':>7} {'segs':>5} {'index MB':>9} {'tasks':>6} " \
           f"{'MB out':>7} {'MB in':>7} {'worker CPU s':>13}"
    print(head)
    print("-" * len(head))
    for r in (local, run):
        print(f"{r.system:26} {r.docs:6d} {r.wall_s:7.1f} {r.cpu_s:7.1f} {r.segments:5d} {r.index_mb:9.1f} "
              f"{r.tasks:6d} {r.mb_out:7.1f} {r.mb_in:7.1f} {r.worker_cpu_s:13.1f}")
    print(f"cluster ÷ local: wall {run.wall_s / local.wall_s:.2f}, CPU {run.cpu_s / local.cpu_s:.2f}; shipping "
          f"overhead {run.wall_s - local.wall_s:+.1f} s wall, {run.cpu_s - local.cpu_s:+.1f} s CPU; "
          f"{(run.mb_out + run.mb_in) / run.wall_s:.0f} MB/s shipped; cluster start-up and warm-up {startup:.1f} s "
          "(not in the wall)")
    print(f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
          f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} on {os.cpu_count()} CPUs")
    arithmetic = _arithmetic(run, local, tail, workers, link_gbit)
    print("\n".join(arithmetic))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({"runs": [asdict(local), asdict(run)], "tail_s": tail, "startup_s": startup,
                                     "load_before": load_before, "load_after": load_after,
                                     "arithmetic": arithmetic}, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
