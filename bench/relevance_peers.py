"""XQuAD-vi retrieval: searchsvc against SQLite FTS5, Tantivy and Whoosh, three query forms each.

Settings: ``easy`` is the 240 XQuAD passages alone; ``mix`` hides them among the first 19,760 baomoi
articles (20,000 documents), which is what makes the set discriminate. Every peer is OR-of-terms BM25,
top 100, over one text field (title, lead and body joined by newlines), so only analysis differs.

    python bench/relevance_peers.py --settings easy,mix --json bench/out/relevance.json
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import click

from searchsvc.evaluation import (
    Metrics,
    Query,
    build_searchsvc_index,
    load_corpus,
    load_qrels,
    load_queries,
    query_variants,
    restrict_qrels,
    score_run,
    search_searchsvc,
)

# The shared data sits next to the project root (../shared/data), for every developer and CI.
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
XQUAD = DATA / "eval" / "xquad_vi"
NEWS = DATA / "news" / "baomoi_2017.jsonl.gz"
OUT = Path(__file__).resolve().parent / "out"
MIX_SIZE = 20_000
FORMS = ("as_written", "no_diacritics", "telex")
SYSTEMS = ("fts5", "tantivy", "whoosh", "searchsvc")
DEPTH = 100
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Row:
    setting: str
    system: str
    form: str
    mrr10: float
    ndcg10: float
    recall10: float
    recall100: float
    queries: int
    index_seconds: float
    query_ms: float
    note: str = ""


def _text(doc: dict[str, Any]) -> str:
    title = str(doc.get("title") or "").replace("_", " ")
    return "\n".join(p for p in (title, str(doc.get("lead") or ""), str(doc.get("body") or "")) if p)


def mix_corpus(passages: Path, news: Path, out: Path, size: int = MIX_SIZE) -> Path:
    """Write the passages plus the first ``size - len(passages)`` news articles to ``out`` (JSONL)."""
    docs = list(load_corpus(passages))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        # Distractors first: on a BM25 tie, insertion order must not favour the passages.
        for doc in islice(load_corpus(news), size - len(docs)):
            keep = {k: doc.get(k) or "" for k in ("id", "title", "lead", "body")}
            fh.write(json.dumps(keep, ensure_ascii=False) + "\n")
        for doc in docs:
            fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return out


# ---------------------------------------------------------------------------------------------- peers
# Each peer: index(corpus) -> a search function text -> ranked ids. Indexing is timed by the caller.

Search = Callable[[str], list[str]]


def fts5(corpus: Path, workdir: Path) -> Search:
    db = sqlite3.connect(workdir / "fts5.db")
    db.execute('CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, text, tokenize="unicode61 remove_diacritics 2")')
    db.executemany("INSERT INTO docs(id, text) VALUES (?, ?)", ((d["id"], _text(d)) for d in load_corpus(corpus)))
    db.commit()

    def search(q: str) -> list[str]:
        # Each term double-quoted (quotes doubled inside) so user text is never FTS5 syntax.
        terms = ['"' + t.replace('"', '""') + '"' for t in dict.fromkeys(_WORD.findall(q))]
        if not terms:
            return []
        rows = db.execute(
            "SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?", (" OR ".join(terms), DEPTH)
        )
        return [r[0] for r in rows]

    return search


def tantivy_peer(corpus: Path, workdir: Path) -> Search:
    import tantivy

    # tantivy 0.22+ exposes custom analyzers: simple tokenizer + lowercase + ASCII folding (covers đ).
    analyzer = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("text", tokenizer_name="fold")
    schema = builder.build()
    path = workdir / "tantivy"
    path.mkdir()
    index = tantivy.Index(schema, path=str(path))
    index.register_tokenizer("fold", analyzer)
    writer = index.writer(heap_size=256_000_000, num_threads=1)
    for d in load_corpus(corpus):
        writer.add_document(tantivy.Document(id=d["id"], text=_text(d)))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()

    def search(q: str) -> list[str]:
        terms = list(dict.fromkeys(analyzer.analyze(q)))
        if not terms:
            return []
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "text", t)) for t in terms]
        )
        return [searcher.doc(addr)["id"][0] for _, addr in searcher.search(query, DEPTH).hits]

    return search


def whoosh_peer(corpus: Path, workdir: Path) -> Search:
    from whoosh import index as windex
    from whoosh.analysis import StandardAnalyzer
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.query import Or, Term

    analyzer = StandardAnalyzer()
    schema = Schema(id=ID(stored=True, unique=False), text=TEXT(analyzer=analyzer))
    path = workdir / "whoosh"
    path.mkdir()
    ix = windex.create_in(str(path), schema)
    writer = ix.writer(limitmb=512)
    for d in load_corpus(corpus):
        writer.add_document(id=d["id"], text=_text(d))
    writer.commit()
    searcher = ix.searcher()  # BM25F, Whoosh's default

    def search(q: str) -> list[str]:
        # The query through the field's own analyzer, then an OR group: never a parser syntax error.
        terms = list(dict.fromkeys(t.text for t in analyzer(q)))
        if not terms:
            return []
        hits = searcher.search(Or([Term("text", t) for t in terms]), limit=DEPTH)
        return [h["id"] for h in hits]

    return search


PEERS: dict[str, Callable[[Path, Path], Search]] = {"fts5": fts5, "tantivy": tantivy_peer, "whoosh": whoosh_peer}


def _run_peer(search: Search, queries: list[Query], form: str) -> tuple[dict[str, list[str]], float]:
    run: dict[str, list[str]] = {}
    started = time.perf_counter()
    for q in queries:
        run[q.id] = search(query_variants(q.text)[form])
    return run, 1000 * (time.perf_counter() - started) / max(len(queries), 1)


def _searchsvc_rows(
    setting: str, corpus: Path, queries: list[Query], qrels: dict[str, dict[str, int]], workdir: Path
) -> Iterator[Row]:
    missing = [m for m in ("searchsvc.store.writer", "searchsvc.search.engine") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"searchsvc: not available yet (no {', '.join(missing)})", file=sys.stderr)
        yield Row(setting, "searchsvc", "-", 0, 0, 0, 0, 0, 0, 0, note="not available yet")
        return
    home = workdir / "searchsvc"
    seconds = build_searchsvc_index(corpus, home, procs=os.cpu_count() or 1)
    for form in FORMS:
        variant = [Query(q.id, query_variants(q.text)[form]) for q in queries]
        found = search_searchsvc(home, variant, DEPTH)
        note = f"{found.rejected} queries refused" if found.rejected else ""
        yield _row(setting, "searchsvc", form, score_run(found.run, qrels), seconds, found.query_ms, note)


def _row(setting: str, system: str, form: str, m: Metrics, seconds: float, ms: float, note: str = "") -> Row:
    return Row(setting, system, form, m.mrr10, m.ndcg10, m.recall10, m.recall100, m.queries, seconds, ms, note)


def evaluate(
    setting: str, corpus: Path, systems: list[str], queries: list[Query], qrels: dict[str, dict[str, int]]
) -> Iterator[Row]:
    with tempfile.TemporaryDirectory(prefix=f"relevance-{setting}-") as tmp:
        workdir = Path(tmp)
        for system in systems:
            if system == "searchsvc":
                try:
                    yield from _searchsvc_rows(setting, corpus, queries, qrels, workdir)
                except Exception as exc:  # report the row as broken and keep measuring the others
                    print(f"searchsvc: failed: {exc!r}", file=sys.stderr)
                    yield Row(setting, "searchsvc", "-", 0, 0, 0, 0, 0, 0, 0, note=f"failed: {exc!r}")
                continue
            started = time.perf_counter()
            search = PEERS[system](corpus, workdir)
            seconds = time.perf_counter() - started
            for form in FORMS:
                run, ms = _run_peer(search, queries, form)
                yield _row(setting, system, form, score_run(run, qrels), seconds, ms)


def _print_table(setting: str, docs: int, rows: list[Row]) -> None:
    print(f"\n## {setting} ({docs:,} docs, {rows[0].queries if rows else 0} queries)")
    header = ("system", "form", "MRR@10", "nDCG@10", "R@10", "R@100", "index s", "q ms")
    print("{:<10} {:<14} {:>7} {:>8} {:>6} {:>6} {:>8} {:>7}".format(*header))
    for r in rows:
        if r.form == "-":  # not run: the note says why
            print(f"{r.system:<10} {r.form:<14} {r.note}")
            continue
        print(
            f"{r.system:<10} {r.form:<14} {r.mrr10:7.3f} {r.ndcg10:8.3f} {r.recall10:6.3f} {r.recall100:6.3f} "
            f"{r.index_seconds:8.1f} {r.query_ms:7.2f}  {r.note}"
        )


def _count(path: Path) -> int:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


@click.command()
@click.option("--settings", default="easy,mix", show_default=True, help="Comma-separated: easy, mix.")
@click.option("--systems", default=",".join(SYSTEMS), show_default=True, help="Comma-separated systems.")
@click.option("--limit-queries", type=int, default=None, help="Only the first N queries.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write rows as JSON.")
def main(settings: str, systems: str, limit_queries: int | None, json_path: Path | None) -> None:
    chosen = [s.strip() for s in systems.split(",") if s.strip()]
    unknown = set(chosen) - set(SYSTEMS)
    if unknown:
        raise click.BadParameter(f"unknown systems: {sorted(unknown)}", param_hint="--systems")
    queries = load_queries(XQUAD / "queries.jsonl")[:limit_queries]
    qrels = restrict_qrels(load_qrels(XQUAD / "qrels.tsv"), queries)
    all_rows: list[Row] = []
    for setting in [s.strip() for s in settings.split(",") if s.strip()]:
        if setting == "easy":
            corpus = XQUAD / "corpus.jsonl"
        elif setting == "mix":
            corpus = mix_corpus(XQUAD / "corpus.jsonl", NEWS, OUT / "xquad_mix.jsonl")
        else:
            raise click.BadParameter(f"unknown setting {setting!r}", param_hint="--settings")
        rows = []
        for row in evaluate(setting, corpus, chosen, queries, qrels):
            rows.append(row)
            print(f"  {row.system}/{row.form}: MRR@10 {row.mrr10:.3f}", file=sys.stderr, flush=True)
        _print_table(setting, _count(corpus), rows)
        all_rows.extend(rows)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps([asdict(r) for r in all_rows], indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
