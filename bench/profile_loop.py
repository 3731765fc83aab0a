"""A steady loop for a sampling profiler: searches of the query-latency mix, or a 1-process reindex.

cProfile (``query_latency.py --profile``) charges every Python call and so inflates code made of many
small calls; a sampling profiler attached to this loop does not. For example (py-spy is not a project
dependency: ``pip install py-spy``):

    py-spy record -r 500 -f raw -o search.txt -- python bench/profile_loop.py search --rounds 8
    py-spy record -r 400 -f raw -o reindex.txt -- python bench/profile_loop.py reindex --limit 3000

``search`` warms the engine on the next seed's mix first (as query_latency.py does), waits for the
engine's background warm-up to end, and prints the mean wall and CPU ms a query of the timed loop; keep
only the samples under its loop when reading the profile.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpus as corpus  # noqa: E402
from query_latency import request  # noqa: E402

from searchsvc.search.engine import Engine  # noqa: E402


@click.group()
def main() -> None:
    """Loops to profile."""


@main.command()
@click.option("--rounds", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--queries", "n_queries", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--seed", type=int, default=2017, show_default=True)
@click.option("--index-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Search this index home (say, a size scaling.py built) instead of baomoi's.")
def search(rounds: int, n_queries: int, seed: int, index_dir: Path | None) -> None:
    """``Engine.search`` over the bench mix (baomoi's queries, answer cache off), ``rounds`` times."""
    articles, vocab = corpus.load_articles(None)
    queries = corpus.make_queries(articles, vocab, n_queries, seed)
    home = index_dir or corpus.searchsvc_index(articles, None, False)
    engine = Engine.open(home, {"RESULT_CACHE": 0})
    for q in corpus.make_queries(articles, vocab, n_queries, seed + 1):
        engine.search(request(q))
    for thread in threading.enumerate():  # the engine's background warm-up would share the timed loop's CPU
        if thread.name == "warm":
            thread.join()
    started, cpu = time.perf_counter(), time.thread_time()
    for _ in range(rounds):
        for q in queries:
            engine.search(request(q))
    n = rounds * len(queries)
    ms, cpu_ms = ((time.perf_counter() - started) * 1000 / n), (time.thread_time() - cpu) * 1000 / n
    click.echo(f"{ms:.2f} ms, {cpu_ms:.2f} CPU ms a query (mean of {rounds} × {len(queries)}); {corpus.uptime()}")


@main.command()
@click.option("--limit", type=click.IntRange(min=1), default=3000, show_default=True)
def reindex(limit: int) -> None:
    """A 1-process reindex of the first ``limit`` baomoi records: what ``analysis_cpu.py`` times."""
    from analysis_cpu import _reindex

    from searchsvc.analysis.segment import load_model

    load_model()  # outside the loop, as analysis_cpu.py loads it outside its measurement
    indexed = _reindex(corpus.CORPUS, limit)()
    click.echo(f"{indexed:,} articles indexed; {corpus.uptime()}")


if __name__ == "__main__":
    main()
