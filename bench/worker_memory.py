"""Where a serving worker's memory goes: the served query mix in one process, then its mappings by kind.

``bench/serve_load.py`` says how much memory each worker peaks at; this says what that memory is. One
process opens an ``Engine`` over the index bench/query_latency.py builds (as a gunicorn worker does, with
the same settings), answers the served load's Zipf mix of 1,000 distinct queries (``--requests`` of them,
after the same 200-request warm-up), and reads ``/proc/self/smaps``: resident memory per index file kind
(``.flat``, ``.pst``, ``.trm``, stored fields ``.col``, ``bigrams.npy``), the heap and anonymous maps
(Python objects, numpy arrays, caches) and shared libraries, at three points: before the engine, after it
opened the index, after the mix. The query mix is made in a child process, so the corpus it reads never
counts here.

    python bench/worker_memory.py --requests 17000            # about one worker's share of a 60 s run
    python bench/worker_memory.py --set WARM_TERMS=0 --json worker_memory.json
"""

from __future__ import annotations

import json
import multiprocessing
import re
import sys
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path
from typing import Any

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpus as corpus  # noqa: E402
from serve_load import zipf_paths  # noqa: E402

_MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")


def _mix(limit: int | None, requests: int, seed: int) -> tuple[str, list[tuple[str, tuple[str, ...]]]]:
    """(index home, [(q, tags)]): the warm-up, then the timed mix, as serve_load.py sends them."""
    articles, vocab = corpus.load_articles(limit)
    queries = corpus.make_queries(articles, vocab, 1000, seed)
    home = corpus.searchsvc_index(articles, limit, False)
    out = []
    for path in zipf_paths(queries, 200, 1.1, seed + 1) + zipf_paths(queries, requests, 1.1, seed):
        qs = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
        out.append((qs["q"][0], tuple(qs.get("tag", []))))
    return str(home), out


def _kind(path: str, home: str) -> str:
    if path.startswith(home):
        name = Path(path).name
        return "index " + (name if name.endswith(".npy") else Path(path).suffix)
    if path.startswith("["):
        return path  # [heap], [anon], [stack]
    return "libraries and other files"


def smaps(home: str) -> dict[str, dict[str, float]]:
    """Resident, proportional and private MB per kind of mapping of this process."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: {"rss": 0.0, "pss": 0.0, "private": 0.0})
    kind = ""
    with open("/proc/self/smaps", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if _MAPPING.match(line):
                kind = _kind(parts[5] if len(parts) > 5 else "[anon]", home)
            elif parts[0] == "Rss:":
                out[kind]["rss"] += int(parts[1]) / 1024
            elif parts[0] == "Pss:":
                out[kind]["pss"] += int(parts[1]) / 1024
            elif parts[0] in ("Private_Clean:", "Private_Dirty:"):
                out[kind]["private"] += int(parts[1]) / 1024
    return dict(out)


def _show(label: str, m: dict[str, dict[str, float]]) -> None:
    total = {k: sum(v[k] for v in m.values()) for k in ("rss", "pss", "private")}
    print(f"{label}: RSS {total['rss']:.0f} MB, PSS {total['pss']:.0f} MB")
    rows = [["mapping", "RSS MB", "PSS MB"]]
    for kind, v in sorted(m.items(), key=lambda kv: -kv[1]["rss"]):
        if v["rss"] >= 0.5:
            rows.append([kind, f"{v['rss']:.1f}", f"{v['pss']:.1f}"])
    print(corpus.table(rows))


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Index only the first N records.")
@click.option("--requests", type=click.IntRange(min=1), default=17_000, show_default=True)
@click.option("--seed", type=int, default=2017, show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="NAME=VALUE", help="An engine setting (repeatable).")
@click.option("--json", "json_name", default=None, help="Write the figures to bench/out/NAME.")
def main(limit: int | None, requests: int, seed: int, overrides: tuple[str, ...], json_name: str | None) -> None:
    """Resident memory of one serving worker by mapping, after the served query mix."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        home, mix = pool.apply(_mix, (limit, requests, seed))
    from searchsvc.search.engine import Engine, SearchRequest

    settings: dict[str, Any] = {}
    for item in overrides:
        name, _, value = item.partition("=")
        settings[name] = float(value) if "." in value else int(value)
    points = {"before the engine": smaps(home)}
    engine = Engine.open(home, settings)
    points["index opened"] = smaps(home)
    started = time.perf_counter()
    for q, tags in mix:
        engine.search(SearchRequest(q=q, tags=tags, per_page=10))
    seconds = time.perf_counter() - started
    points["after the mix"] = smaps(home)
    stats = engine._derived_stats()
    print(f"{len(mix):,} searches in {seconds:.1f} s, one thread; settings {settings or 'default'}; "
          f"postings cache {stats.cached_bytes / 2**20:.0f} MB; segments with flat postings "
          f"{sum(f is not None for f in stats.flats)} of {len(stats.flats)}")
    for label, m in points.items():
        _show(label, m)
    if json_name:
        out = corpus.OUT / Path(json_name).name
        out.write_text(json.dumps({"requests": len(mix), "seconds": seconds, "settings": settings,
                                   "points": points}, indent=2), encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
