"""Suggestions as a reader types: ``Engine.suggest`` latency over every prefix of real queries.

Queries are the first one to three words of seeded baomoi headlines, as written and without diacritics;
each is typed a character at a time and every prefix of two or more characters is asked for, as the
reader page's box asks while typing. One untimed pass over other headlines first (the snapshot's
completion table and headline text are built on the first call, as in a running worker).

    python bench/suggest_latency.py --index-dir bench/out/headlines/index   # an index home of baomoi
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpus as corpus  # noqa: E402

from searchsvc.evaluation import no_diacritics  # noqa: E402
from searchsvc.search.engine import Engine  # noqa: E402

TARGET_P95_MS = 15.0


def prefixes(titles: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    for title in rng.sample(titles, min(n, len(titles))):
        words = title.split()[: rng.randint(1, 3)]
        typed = " ".join(words)
        if rng.random() < 0.5:
            typed = no_diacritics(typed)
        out += [typed[:i] for i in range(2, len(typed) + 1)]
    return out


@click.command()
@click.option("--index-dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--queries", type=int, default=300, show_default=True, help="Headlines typed.")
@click.option("--seed", type=int, default=7, show_default=True)
def main(index_dir: Path, queries: int, seed: int) -> None:
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    engine = Engine.open(index_dir, {"WARM_TERMS": 0})
    titles = [f.get("title") or "" for _, f in engine.snapshot.documents()]
    titles = [t for t in titles if t.strip()]
    started = time.perf_counter()
    for p in prefixes(titles, 50, seed + 1):
        engine.suggest(p)
    print(f"{engine.snapshot.doc_count:,} articles; warm-up pass {time.perf_counter() - started:.1f} s "
          "(builds the completion table)")
    timed = prefixes(titles, queries, seed)
    ms: list[float] = []
    kinds = {"completion": 0, "tag": 0, "article": 0}
    for p in timed:
        t = time.perf_counter()
        got = engine.suggest(p)
        ms.append(1000 * (time.perf_counter() - t))
        for s in got:
            kinds[s.kind] += 1
    pct = corpus.percentiles(ms)
    print(f"{len(timed):,} prefixes: " + ", ".join(f"{k} {v:.2f} ms" for k, v in pct.items()))
    print("suggestions per prefix: " + ", ".join(f"{k} {v / len(timed):.2f}" for k, v in kinds.items()))
    print(f"target p95 ≤ {TARGET_P95_MS} ms: {'met' if pct['p95'] <= TARGET_P95_MS else 'NOT met'}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
