"""Scaling: reindex and query cost at 1×, 2×, 4× and 8× baomoi (35,439 → 283,512 articles), Tantivy beside.

**Corpora** (bench/_scaling_corpus.py, which says how synthetic articles are made): size m× is m·B
articles, B = the 35,439 valid baomoi articles (``--quick``: the first 2,000); baomoi, then the other
real corpora (27,291 articles), then synthetic articles recombining real passages by topic, seeded.
Every size holds the smaller ones.

**Measures.** Each size is reindexed by the real CLI (``searchsvc reindex --procs N`` as a subprocess,
reading the shards): wall time, CPU of the process tree (``RUSAGE_CHILDREN``), peak of the summed RSS
and PSS of the tree (sampled from /proc every 0.2 s), disk of the index home. Tantivy indexes the same
shards in a subprocess of its own (title and lead+body, simple tokenizer + lowercase + ASCII folding,
NFC first; stored for snippets; ``N`` threads, 256 MB heap), measured alike. Queries: the seeded mix of
bench/_corpus.py from the baomoi articles (the same queries at every size), in process:
``Engine.search`` (10 highlighted hits, facets, answer cache off) and Tantivy (every word in title or
text, quoted text a phrase, tag filters as terms; count, 10 hits, title and text snippets). After an
untimed warm-up (the next seed's mix), each query runs on every size and system in turn, the order
rotated query by query so machine noise and shared caches favour no size. The growth exponent k of a
measure is the least-squares slope of log(measure) on log(articles): cost ∝ size^k.

    python bench/scaling.py --quick                  # smoke run: B = 2,000 (2k-16k articles)
    python bench/scaling.py                          # the full run: 35k-283k, ~1 hour alone on the machine
    python bench/scaling.py --reuse --queries 500    # queries again over the indexes already built
"""

from __future__ import annotations

import gzip
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpus as corpus  # noqa: E402
from _scaling_corpus import DIR, SCHEME_VERSION, shard_articles, shards  # noqa: E402
from _server import CLI, ENV  # noqa: E402
from reindex import SAMPLE_SECONDS, _descendants, _memory_kb  # noqa: E402

QUICK_BASE = 2_000
TARGET_P95_GROWTH = 1.5
TARGET_RSS_1X_MB = 1500.0
_TERM = re.compile(r'"([^"]*)"?|([^\s"]+)')


# --------------------------------------------------------------------------------------------- building


@dataclass
class Build:
    system: str
    size: int  # the multiple of B
    articles: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    disk_mb: float
    load1_after: float
    reused: bool = False
    query_ms: dict[str, float] = field(default_factory=dict)


class TreePeak(threading.Thread):
    """Peak of the summed RSS and PSS of ``root`` and its descendants, sampled every SAMPLE_SECONDS."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.rss_kb = self.pss_kb = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            rss = pss = 0
            for pid in _descendants(self.root):
                r, p = _memory_kb(pid)
                rss, pss = rss + r, pss + p
            self.rss_kb, self.pss_kb = max(self.rss_kb, rss), max(self.pss_kb, pss)
            self.halt.wait(SAMPLE_SECONDS)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def measured(system: str, size: int, articles: int, cmd: list[str], out: Path) -> Build:
    """Runs ``cmd`` (which writes ``out``) as a child process and measures it."""
    if out.exists():
        shutil.rmtree(out)
    log = DIR / f"{out.name}.log"
    cpu0, wall0 = _children_cpu(), time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, env=ENV, stdout=fh, stderr=subprocess.STDOUT)
        peak = TreePeak(proc.pid)
        peak.start()
        code = proc.wait()
    wall, cpu = time.perf_counter() - wall0, _children_cpu() - cpu0
    peak.halt.set()
    peak.join()
    if code:
        raise click.ClickException(f"{system} at {size}x exited with {code}: {log.read_text()[-2000:]}")
    build = Build(system, size, articles, wall, cpu, peak.rss_kb / 1024, peak.pss_kb / 1024, _disk_mb(out),
                  os.getloadavg()[0])
    # bench.json: what bench/serve_load.py --index-dir and a --reuse run read back.
    stamp = {**asdict(build), "seconds": round(wall, 1), "versions": _versions()}
    (out / "bench.json").write_text(json.dumps(stamp), encoding="utf-8")
    return build


def build_searchsvc(home: Path, paths: Sequence[Path], size: int, articles: int, procs: int) -> Build:
    cmd = [*CLI, "--index-dir", str(home), "--quiet", "reindex", "--procs", str(procs), *map(str, paths)]
    return measured("searchsvc", size, articles, cmd, home)


def build_tantivy(folder: Path, paths: Sequence[Path], size: int, articles: int, procs: int) -> Build:
    cmd = [sys.executable, str(Path(__file__).resolve()), "_tantivy", str(folder), str(procs), *map(str, paths)]
    return measured("tantivy", size, articles, cmd, folder)


def _tantivy_schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="fold")
    builder.add_text_field("text", stored=True, tokenizer_name="fold")
    builder.add_text_field("tags", tokenizer_name="raw")
    return builder.build()


def _fold_analyzer() -> Any:
    import tantivy

    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold()).build())


def _tantivy_index(folder: Path) -> Any:
    import tantivy

    folder.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(_tantivy_schema(), path=str(folder))
    index.register_tokenizer("fold", _fold_analyzer())  # per opened index: the schema only names it
    return index


def tantivy_child(folder: Path, procs: int, paths: Sequence[Path]) -> None:
    """The Tantivy build, in a process of its own so that its memory is measured alone."""
    import tantivy

    index = _tantivy_index(folder)
    writer = index.writer(heap_size=256_000_000, num_threads=procs)
    for path in paths:
        # Line by line, so that the peak memory is Tantivy's; json.dumps never writes a raw \r or \n.
        with gzip.open(path, "rt", encoding="utf-8", newline="\n") as f:
            for line in f:
                if not line.strip():
                    continue
                r = json.loads(line)
                # NFC first: the simple tokenizer would cut a word at a decomposed mark.
                text = unicodedata.normalize("NFC", "\n".join(str(r.get(k) or "") for k in ("lead", "body")))
                doc = tantivy.Document(id=str(r["id"]), title=unicodedata.normalize("NFC", r["title"]), text=text)
                for tag in r.get("tags") or ():
                    doc.add_text("tags", tag.lower())
                writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()


# --------------------------------------------------------------------------------------------- querying


class Ours:
    def __init__(self, home: Path) -> None:
        from searchsvc.search.engine import Engine

        # The answer cache is off: this measures computing each answer, not repeating it.
        self.engine = Engine.open(home, {"RESULT_CACHE": 0})

    def search(self, q: corpus.Query) -> int:
        from searchsvc.search.engine import SearchRequest

        return self.engine.search(SearchRequest(q=q.q, tags=q.tags, per_page=10)).total


class Tantivy:
    def __init__(self, folder: Path) -> None:
        self.index = _tantivy_index(folder)
        self.index.reload()
        self.searcher = self.index.searcher()
        self.schema = _tantivy_schema()
        self.analyzer = _fold_analyzer()

    def query(self, q: corpus.Query) -> Any:
        import tantivy as t

        def either(make: Any) -> Any:  # a word or phrase in the title or the text
            return t.Query.boolean_query([(t.Occur.Should, make(f)) for f in ("title", "text")])

        must = []
        for m in _TERM.finditer(q.q):
            words = self.analyzer.analyze(unicodedata.normalize("NFC", m.group(1) or m.group(2) or ""))
            if m.group(1) is not None and len(words) > 1:
                must.append(either(lambda f, w=words: t.Query.phrase_query(self.schema, f, w)))
            else:
                must += [either(lambda f, w=w: t.Query.term_query(self.schema, f, w)) for w in words]
        must += [t.Query.term_query(self.schema, "tags", tag.lower()) for tag in q.tags]
        return t.Query.boolean_query([(t.Occur.Must, c) for c in must]) if must else None

    def search(self, q: corpus.Query) -> int:
        import tantivy as t

        query = self.query(q)
        if query is None:
            return 0
        result = self.searcher.search(query, 10, count=True)
        snippets = [t.SnippetGenerator.create(self.searcher, query, self.schema, f) for f in ("title", "text")]
        for _, address in result.hits:
            doc = self.searcher.doc(address)
            for generator in snippets:
                generator.snippet_from_doc(doc).to_html()
        return int(result.count or 0)


def time_queries(systems: dict[tuple[str, int], Any], queries: Sequence[corpus.Query],
                 warm: Sequence[corpus.Query]) -> dict[tuple[str, int], list[float]]:
    keys = list(systems)
    for q in warm:
        for key in keys:
            systems[key].search(q)
    ms: dict[tuple[str, int], list[float]] = {key: [] for key in keys}
    for i, q in enumerate(queries):
        for key in keys[i % len(keys):] + keys[:i % len(keys)]:
            t0 = time.perf_counter()
            systems[key].search(q)
            ms[key].append((time.perf_counter() - t0) * 1000)
    return ms


# --------------------------------------------------------------------------------------------- report

MEASURES = ("wall_s", "cpu_s", "peak_rss_mb", "peak_pss_mb", "disk_mb", "p50", "p95", "p99")


def value(b: Build, measure: str) -> float:
    return b.query_ms.get(measure, 0.0) if measure.startswith("p") and measure[1:].isdigit() else getattr(b, measure)


def exponent(builds: Sequence[Build], measure: str) -> float | None:
    """Least-squares slope of log(measure) on log(articles); None with fewer than two positive points."""
    points = [(b.articles, value(b, measure)) for b in builds if value(b, measure) > 0]
    if len(points) < 2:
        return None
    x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return float(np.polyfit(x, y, 1)[0])


def report(builds: Sequence[Build]) -> tuple[list[str], dict[str, dict[str, float | None]]]:
    rows = [["system", "size", "articles", "reindex s", "CPU s", "peak RSS MB", "peak PSS MB", "disk MB",
             "p50 ms", "p95 ms", "p99 ms", "load"]]
    for b in builds:
        rows.append([b.system + (" (reused)" if b.reused else ""), f"{b.size}x", f"{b.articles:,}",
                     *(f"{value(b, m):.1f}" for m in MEASURES), f"{b.load1_after:.2f}"])
    lines = [corpus.table(rows), "", "growth exponent k (cost ∝ size^k), least squares over the sizes:"]
    k_rows = [["system", *MEASURES]]
    exponents: dict[str, dict[str, float | None]] = {}
    for system in dict.fromkeys(b.system for b in builds):
        ks = {m: exponent([b for b in builds if b.system == system], m) for m in MEASURES}
        exponents[system] = ks
        k_rows.append([system, *("-" if k is None else f"{k:.2f}" for k in ks.values())])
    lines.append(corpus.table(k_rows))
    peers = {(b.system, b.size): b for b in builds}
    r_rows = [["searchsvc ÷ tantivy", *MEASURES]]
    for b in builds:
        peer = peers.get(("tantivy", b.size))
        if b.system == "searchsvc" and peer is not None:
            r_rows.append([f"{b.size}x", *(f"{value(b, m) / value(peer, m):.1f}" if value(peer, m) else "-"
                                           for m in MEASURES)])
    if len(r_rows) > 1:
        lines += ["", "ratio to Tantivy in the same run:", corpus.table(r_rows)]
    return lines, exponents


def targets(builds: Sequence[Build]) -> list[str]:
    ours = {b.size: b for b in builds if b.system == "searchsvc"}
    lines = []
    if 1 in ours and 8 in ours:
        ratio = ours[8].query_ms["p95"] / ours[1].query_ms["p95"]
        lines.append(f"target p95 at 8x <= {TARGET_P95_GROWTH}x p95 at 1x: {ratio:.2f}x, "
                     f"{'met' if ratio <= TARGET_P95_GROWTH else 'MISSED'}")
    if 1 in ours:
        rss = ours[1].peak_rss_mb
        lines.append(f"target peak reindex RSS at 1x < {TARGET_RSS_1X_MB:.0f} MB: {rss:.0f} MB, "
                     f"{'met' if rss < TARGET_RSS_1X_MB else 'MISSED'}")
    if 8 in ours:
        lines.append(f"peak reindex RSS at 8x: {ours[8].peak_rss_mb:.0f} MB (PSS {ours[8].peak_pss_mb:.0f})")
    return lines


def _versions() -> dict[str, str]:
    """What an index on disk depends on besides its documents; a --reuse run rebuilds when it changed."""
    import tantivy

    from searchsvc.store.schema import FORMAT_VERSION, SCHEMA_VERSION

    return {"format": str(FORMAT_VERSION), "schema": str(SCHEMA_VERSION),
            "tantivy": str(getattr(tantivy, "__version__", "?"))}


def _reused(folder: Path, system: str, size: int, articles: int, opener: Any) -> tuple[Build | None, Any]:
    """The figures and the opened index of an earlier build of the same documents, else (None, None)."""
    from searchsvc.errors import IndexUnavailable

    stamp = folder / "bench.json"
    if not stamp.exists():
        return None, None
    data = json.loads(stamp.read_text(encoding="utf-8"))
    data.pop("seconds", None)
    if data.pop("versions", None) != _versions():
        return None, None
    build = Build(**{**data, "query_ms": {}, "reused": True})
    if (build.system, build.size, build.articles) != (system, size, articles):
        return None, None
    try:
        return build, opener(folder)
    except (IndexUnavailable, ValueError):  # written by other code than this (the version was not bumped)
        return None, None


@click.command()
@click.option("--sizes", default="1,2,4,8", show_default=True, help="Multiples of B, comma-separated.")
@click.option("--quick", is_flag=True, help=f"B = the first {QUICK_BASE:,} baomoi articles (a smoke run).")
@click.option("--queries", "n_queries", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--seed", type=int, default=2017, show_default=True, help="Seed of the synthesis and the queries.")
@click.option("--procs", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--reuse", is_flag=True, help="Keep indexes already built for these shards (and their figures).")
@click.option("--json", "json_name", default=None, help="Write the figures to bench/out/NAME "
              "(default scaling.json, scaling_quick.json).")
def main(sizes: str, quick: bool, n_queries: int, seed: int, procs: int, reuse: bool, json_name: str | None) -> None:
    """Reindex cost, memory, disk and query percentiles per size, and their growth exponents."""
    started = time.perf_counter()
    multiples = sorted({int(s) for s in sizes.split(",") if s.strip()})
    if not multiples or multiples[0] < 1:
        raise click.BadParameter("sizes are positive multiples of B", param_hint="--sizes")
    load_start = corpus.uptime()
    click.echo(f"{load_start} at the start ({os.cpu_count()} cores)")
    articles_1x, vocab = corpus.load_articles(QUICK_BASE if quick else None)
    base = len(articles_1x)
    paths = shards(base, seed, multiples[-1])
    click.echo(f"B = {base:,} articles; shards ready ({time.perf_counter() - started:.0f} s)", err=True)

    builds: list[Build] = []
    systems: dict[tuple[str, int], Any] = {}
    for m in multiples:
        count = shard_articles(paths[:m])
        tag = f"b{base}-s{seed}-v{SCHEME_VERSION}-{m}x"
        home, tantivy_dir = DIR / f"index-{tag}", DIR / f"tantivy-{tag}"
        for system, folder, build, opener in (("searchsvc", home, build_searchsvc, Ours),
                                              ("tantivy", tantivy_dir, build_tantivy, Tantivy)):
            done, opened = _reused(folder, system, m, count, opener) if reuse else (None, None)
            if done is None:
                done = build(folder, paths[:m], m, count, procs)
            # Said before the index is opened: the figures are also in <folder>/bench.json.
            click.echo(f"  {system} {m}x: {count:,} articles, {done.wall_s:.0f} s, {done.cpu_s:.0f} s CPU, "
                       f"{done.peak_rss_mb:.0f} MB peak, {done.disk_mb:.0f} MB disk", err=True)
            builds.append(done)
            systems[(system, m)] = opened or opener(folder)

    queries = corpus.make_queries(articles_1x, vocab, n_queries, seed)
    warm = corpus.make_queries(articles_1x, vocab, n_queries, seed + 1)
    load_before_queries = corpus.uptime()
    ms = time_queries(systems, queries, warm)
    for b in builds:
        p = corpus.percentiles(ms[(b.system, b.size)])
        b.query_ms = {k: p[k] for k in ("mean", "p50", "p95", "p99", "max")}

    lines, exponents = report(builds)
    lines += ["", *targets(builds), f"{len(queries)} queries ({sum(1 for q in queries if q.tags)} with a tag, "
              f"{sum(1 for q in queries if q.q.startswith(chr(34)))} phrases), every size and system in turn",
              f"{load_start} (start) / {load_before_queries} (queries) / {corpus.uptime()} (end)",
              f"total {time.perf_counter() - started:.0f} s"]
    click.echo("\n".join(lines))
    out = corpus.OUT / Path(json_name or ("scaling_quick.json" if quick else "scaling.json")).name
    out.write_text(json.dumps({
        "base": base, "seed": seed, "scheme": SCHEME_VERSION, "procs": procs, "cpus": os.cpu_count(),
        "queries": len(queries), "shards": [str(p) for p in paths], "builds": [asdict(b) for b in builds],
        "exponents": exponents, "targets": targets(builds), "load_start": load_start,
        "load_queries": load_before_queries, "load_end": corpus.uptime(),
        "seconds": time.perf_counter() - started,
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["_tantivy"]:
        tantivy_child(Path(sys.argv[2]), int(sys.argv[3]), [Path(p) for p in sys.argv[4:]])
    else:
        main()
