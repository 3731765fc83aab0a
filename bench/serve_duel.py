"""Two builds of searchsvc served side by side under the same load at the same time: which costs less CPU.

On this shared machine the speed of a core drifts by a third from one minute to the next, so two
serve_load.py runs one after the other cannot show a change of a few percent. Here both servers (this
environment's ``searchsvc`` and ``--against``, another checkout installed in its own virtual environment)
run at once over the same index, each under ``--connections`` keep-alive connections taking the same
no-answer-cache mix as ``serve_load.py --zipf 0``. Any drift hits both alike; what differs is each
server's workers' CPU per request (their share of the throughput is up to the scheduler, so requests/s
are printed but are not the comparison).

    python3 -m venv /tmp/venv-old && git worktree add /tmp/old <commit> && /tmp/venv-old/bin/pip install -e /tmp/old
    python bench/serve_duel.py --against /tmp/venv-old/bin/searchsvc --duration 60
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpus as corpus  # noqa: E402
from serve_load import Load, cpu_seconds, server, settle, worker_pids, zipf_paths  # noqa: E402


@click.command()
@click.option("--against", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The other build's `searchsvc` executable.")
@click.option("--distinct", type=click.IntRange(min=1), default=5000, show_default=True, help="Distinct queries.")
@click.option("--connections", type=click.IntRange(min=1), default=8, show_default=True, help="Per server.")
@click.option("--duration", type=click.FloatRange(min=1), default=60.0, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--seed", type=int, default=2017, show_default=True)
@click.option("--index-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Serve this index home (one bench/scaling.py built) instead of baomoi's bench index.")
def main(against: Path, distinct: int, connections: int, duration: float, workers: int, seed: int,
         index_dir: Path | None) -> None:
    """Workers' CPU ms per request of this build and of --against, served at the same time."""
    os.environ["SEARCHSVC_RESULT_CACHE"] = "0"  # every request computed, in both servers
    articles, vocab = corpus.load_articles(None)
    queries = corpus.make_queries(articles, vocab, distinct, seed)
    home = index_dir or corpus.searchsvc_index(articles, None, False)
    del articles
    paths = zipf_paths(queries, 100_000, 0.0, seed)
    warm = zipf_paths(queries, 200, 0.0, seed + 1)
    builds = {"this build": Path(sys.executable).with_name("searchsvc"), "--against": against}
    with server(home, workers, corpus.OUT / "serve_duel.a.log", builds["this build"]) as (a, a_port), \
            server(home, workers, corpus.OUT / "serve_duel.b.log", against) as (b, b_port):
        procs = {"this build": (a, a_port), "--against": (b, b_port)}
        pids = {name: worker_pids(proc.pid) for name, (proc, _) in procs.items()}
        for _, port in procs.values():
            Load(port, warm, connections, duration).run()
        settle([pid for group in pids.values() for pid in group])
        load_before = corpus.uptime()
        loads = {name: Load(port, paths, connections, duration) for name, (_, port) in procs.items()}
        before = {name: sum(cpu_seconds(pid) for pid in group) for name, group in pids.items()}
        runs = [threading.Thread(target=load.run) for load in loads.values()]
        for t in runs:
            t.start()
        for t in runs:
            t.join()
        used = {name: sum(cpu_seconds(pid) for pid in group) - before[name] for name, group in pids.items()}
    rows = [["build", "requests", "req/s", "errors", "workers' CPU s", "CPU ms a request"]]
    per_request = {}
    for name, load in loads.items():
        done = len(load.latencies) + sum(load.errors.values())
        per_request[name] = used[name] * 1000 / max(done, 1)
        rows.append([name, f"{done:,}", f"{done / duration:.0f}", str(sum(load.errors.values())),
                     f"{used[name]:.1f}", f"{per_request[name]:.2f}"])
    print(corpus.table(rows))
    print(f"this build's CPU per request is {per_request['this build'] / per_request['--against']:.3f}x --against's")
    print(f"{load_before} (before) / {corpus.uptime()} (after)")


if __name__ == "__main__":
    main()
