"""Related articles: searchsvc against Whoosh ``more_like`` and Tantivy ``MoreLikeThisQuery``, judged alike.

In one process, on the same articles and the same seeded sample, every system lists 10 related stories
for each sampled article, judged by ``searchsvc.evaluation_related``:

- ``vnexpress``: labelled by ``subcategory``, the breadcrumb below the section ("V-League > Tin tức"); its
  last element alone is a format (news, report, photos) shared across competitions.
- ``dantri``: labelled by ``category``, the site's ten sections.
- ``baomoi``: no labels; syndicated copies (the same story under two ids: Jaccard of 4-syllable shingles of
  the folded body ≥ 0.8, found by MinHash over all 35k articles), indexed with distractors up to
  ``--limit`` articles; the sample is drawn from the articles with a copy, and "copies" counts those whose
  list holds one (lower is better).

The peers see the text searchsvc sees (title, lead, body; no labels), folded: Whoosh by its analyzer,
Tantivy before indexing (its tokenizer does not fold đ).

    python bench/related_peers.py --json bench/out/related_peers.json
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
from whoosh.analysis import Filter

from searchsvc.evaluation import load_corpus, no_diacritics
from searchsvc.evaluation_related import (
    JudgedCorpus,
    RelatedMetrics,
    build_related_index,
    judge_records,
    run_searchsvc_related,
    sample_ids,
    score_related,
)

NEWS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "news"
SETS: dict[str, tuple[str, str | None]] = {  # name: (file, label)
    "vnexpress": ("vnexpress_bongda.jsonl.gz", "breadcrumb-2"),
    "vnexpress-fine": ("vnexpress_bongda.jsonl.gz", "subcategory"),
    "dantri": ("dantri_unc.jsonl.gz", "category"),
    "baomoi": ("baomoi_2017.jsonl.gz", None),
}
SYSTEMS = ("searchsvc", "whoosh-mlt10", "whoosh-mlt50", "tantivy-mlt")
LIST = 10  # related stories asked for: P@10 needs ten slots
COPY_JACCARD = 0.8
SHINGLE = 4
MIN_SHINGLES = 20  # shorter bodies ("Video đang được xử lý") match each other without being copies
BANDS, ROWS = 16, 4  # MinHash LSH: a pair at Jaccard 0.8 becomes a candidate with probability 0.9998
_WORD = re.compile(r"\w+")
_MIX = tuple(np.uint64(m) for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93))

Related = Callable[[str], list[str]]  # article id -> related ids, best first


@dataclass(frozen=True)
class Row:
    set: str
    system: str
    metrics: RelatedMetrics
    load1: float  # 1-minute load average when the system's calls ended
    note: str = ""


def fold(text: str) -> str:
    """Lowercased, NFC, without diacritics (đ → d): what both peers index and match."""
    return no_diacritics(unicodedata.normalize("NFC", text)).lower()


def _text(article: Any) -> str:
    return "\n".join(p for p in (article.title, article.lead, article.body) if p)


# ---------------------------------------------------------------------------------------------- copies


def _shingles(body: str, vocab: dict[str, int]) -> np.ndarray:
    """The body's distinct runs of SHINGLE folded syllables, each hashed to 64 bits.

    Syllables are numbered in order of first appearance (stable from run to run, unlike ``hash`` of a str),
    and a run's number mixes its syllables' numbers with odd 64-bit constants."""
    words = _WORD.findall(fold(body))
    if len(words) < SHINGLE:
        return np.zeros(0, np.uint64)
    numbers = np.fromiter((vocab.setdefault(w, len(vocab)) for w in words), np.uint64, len(words))
    n = len(words) - SHINGLE + 1
    keys = np.zeros(n, np.uint64)
    for i, mix in enumerate(_MIX):
        keys = keys * np.uint64(31) + numbers[i:i + n] * mix  # wraps mod 2^64
    return np.unique(keys)


def copy_groups(records: list[Mapping[str, Any]]) -> dict[str, str]:
    """Article id → copy group (the group's first id) for every article with a near-copy in ``records``."""
    ids = [str(r["id"]) for r in records]
    vocab: dict[str, int] = {}
    sets = [_shingles(str(r.get("body") or ""), vocab) for r in records]
    rng = np.random.default_rng(13)
    a = rng.integers(1, 2**63, BANDS * ROWS, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, BANDS * ROWS, dtype=np.uint64)
    buckets: dict[bytes, list[int]] = {}
    for i, s in enumerate(sets):
        if len(s) < MIN_SHINGLES:
            continue
        signature = (s[:, None] * a + b).min(axis=0)  # wraps mod 2^64: a family of hashes all the same
        for band in range(BANDS):
            buckets.setdefault(bytes([band]) + signature[band * ROWS:(band + 1) * ROWS].tobytes(), []).append(i)
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    checked: set[tuple[int, int]] = set()
    for members in buckets.values():
        for x, i in enumerate(members):
            for j in members[x + 1:]:
                if (i, j) in checked:
                    continue
                checked.add((i, j))
                shared = len(np.intersect1d(sets[i], sets[j], assume_unique=True))
                if shared / (len(sets[i]) + len(sets[j]) - shared) >= COPY_JACCARD:
                    parent[root(j)] = root(i)
    roots = [root(i) for i in range(len(records))]
    sizes = np.bincount(roots, minlength=len(records))
    return {ids[i]: ids[r] for i, r in enumerate(roots) if sizes[r] > 1}


def load_set(name: str, limit: int) -> JudgedCorpus:
    path = NEWS / SETS[name][0]
    records = list(load_corpus(path))
    if SETS[name][1] is not None:
        return judge_records(records[:limit] if limit else records, SETS[name][1])
    groups = copy_groups(records)
    # Every article with a copy, then distractors in corpus order up to ``limit`` articles.
    room = max(0, limit - len(groups)) if limit else len(records)
    kept = [r for r in records if str(r["id"]) in groups]
    kept += [r for r in records if str(r["id"]) not in groups][:room]
    return judge_records(({**r, "copy_group": groups.get(str(r["id"]))} for r in kept), None, "copy_group")


# ---------------------------------------------------------------------------------------------- peers


class FoldFilter(Filter):  # type: ignore[misc]
    """Whoosh filter: each token folded (module level: Whoosh pickles the schema with its analyzer)."""

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        for token in tokens:
            token.text = fold(token.text)
            yield token


def whoosh_peers(corpus: JudgedCorpus, workdir: Path) -> dict[str, Related]:
    from whoosh import index as windex
    from whoosh.analysis import RegexTokenizer
    from whoosh.fields import ID, TEXT, Schema

    schema = Schema(id=ID(stored=True, unique=True),
                    text=TEXT(analyzer=RegexTokenizer() | FoldFilter(), vector=True))
    path = workdir / "whoosh"
    path.mkdir()
    ix = windex.create_in(str(path), schema)
    writer = ix.writer(limitmb=256)
    for article in corpus.articles:
        # NFC first, so that a decomposed mark stays inside its word for the tokenizer.
        writer.add_document(id=article.id, text=unicodedata.normalize("NFC", _text(article)))
    writer.commit()
    searcher = ix.searcher()

    def more_like(numterms: int) -> Related:
        def related(article_id: str) -> list[str]:
            docnum = searcher.document_number(id=article_id)
            # more_like masks the article itself.
            return [h["id"] for h in searcher.more_like(docnum, "text", top=LIST, numterms=numterms)]

        return related

    return {"whoosh-mlt10": more_like(10), "whoosh-mlt50": more_like(50)}


def tantivy_peers(corpus: JudgedCorpus, workdir: Path) -> dict[str, Related]:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("text", stored=True)  # MoreLikeThis reads the stored text of the article
    schema = builder.build()
    path = workdir / "tantivy"
    path.mkdir()
    index = tantivy.Index(schema, path=str(path))
    writer = index.writer(heap_size=256_000_000, num_threads=1)
    for article in corpus.articles:
        writer.add_document(tantivy.Document(id=article.id, text=fold(_text(article))))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()

    def related(article_id: str) -> list[str]:
        (_, address), = searcher.search(tantivy.Query.term_query(schema, "id", article_id), 1).hits
        hits = searcher.search(tantivy.Query.more_like_this_query(address), LIST + 1).hits  # its defaults
        ids = [searcher.doc(a)["id"][0] for _, a in hits]
        return [i for i in ids if i != article_id][:LIST]  # the article itself is its own best match

    return {"tantivy-mlt": related}


def _run(related: Related, ids: list[str]) -> tuple[dict[str, list[str]], list[float]]:
    run: dict[str, list[str]] = {}
    timings: list[float] = []
    for article_id in ids:
        started = time.perf_counter()
        run[article_id] = related(article_id)
        timings.append(1000 * (time.perf_counter() - started))
    return run, timings


def evaluate(name: str, corpus: JudgedCorpus, ids: list[str], systems: list[str]) -> Iterator[Row]:
    label = SETS[name][1]
    with tempfile.TemporaryDirectory(prefix=f"related-{name}-") as tmp:
        workdir = Path(tmp)
        if "searchsvc" in systems:
            seconds = build_related_index(corpus, workdir / "searchsvc", procs=os.cpu_count() or 1)
            run, timings = run_searchsvc_related(workdir / "searchsvc", ids, LIST)
            if label is not None:
                print_misses(name, run, corpus.labels)
            yield Row(name, "searchsvc", score_related(run, corpus, label, timings, seconds), os.getloadavg()[0])
        for build, names in ((whoosh_peers, ("whoosh-mlt10", "whoosh-mlt50")), (tantivy_peers, ("tantivy-mlt",))):
            wanted = [s for s in names if s in systems]
            if not wanted:
                continue
            started = time.perf_counter()
            peers = build(corpus, workdir)
            seconds = time.perf_counter() - started
            for system in wanted:
                run, timings = _run(peers[system], ids)
                yield Row(name, system, score_related(run, corpus, label, timings, seconds), os.getloadavg()[0])


# Subsections that say how a story is told, not what it is about: content cannot tell them apart.
FORMATS = ("Ảnh", "Tường thuật", "Video", "Ý kiến", "Tin tức", "Hậu trường")


def _format(label: str | None) -> bool:
    return bool(label) and any(part.strip() in FORMATS for part in str(label).split(">"))


def print_misses(name: str, run: Mapping[str, list[str]], labels: Mapping[str, str], k: int = 5) -> None:
    """searchsvc's top-k slots holding a story of another label: how many involve a format subsection on
    either side, and the commonest pairs (the article's label → the listed story's)."""
    pairs: Counter[tuple[str, str]] = Counter()
    slots = 0
    for article_id, found in run.items():
        slots += k
        pairs.update((labels[article_id], labels.get(r, "")) for r in found[:k] if labels.get(r) != labels[article_id])
    missed = sum(pairs.values())
    formats = sum(n for (a, b), n in pairs.items() if _format(a) or _format(b))
    print(f"  {name}/searchsvc: {missed} of {slots} top-{k} slots hold another label, {formats} of them a format "
          f"subsection ({', '.join(FORMATS)}) on either side; commonest:", file=sys.stderr)
    for (a, b), n in pairs.most_common(6):
        print(f"    {n:4d}  {a} → {b or '(none)'}", file=sys.stderr)


def _fmt(value: float | None, spec: str = "6.3f") -> str:
    return format(value, spec) if value is not None else "-".rjust(int(spec.split(".")[0]))


def print_table(rows: list[Row]) -> None:
    header = ("set", "system", "docs", "sample", "P@5", "P@10", "returned", "self", "copies", "index s",
              "p50 ms", "p95 ms", "load")
    print("{:<10} {:<13} {:>6} {:>6} {:>6} {:>6} {:>8} {:>5} {:>9} {:>7} {:>7} {:>7} {:>5}".format(*header))
    for r in rows:
        m = r.metrics
        copies = f"{m.copies_listed}/{m.with_copies}" if m.with_copies else "-"
        print(f"{r.set:<10} {r.system:<13} {m.articles:>6} {m.sampled:>6} {_fmt(m.p5)} {_fmt(m.p10)} "
              f"{m.returned:8.2f} {m.self_matches:>5} {copies:>9} {m.index_seconds:7.1f} {m.p50_ms:7.1f} "
              f"{m.p95_ms:7.1f} {r.load1:5.2f}")


@click.command()
@click.option("--sets", default=",".join(SETS), show_default=True, help="Comma-separated: " + ", ".join(SETS))
@click.option("--systems", default=",".join(SYSTEMS), show_default=True, help="Comma-separated systems.")
@click.option("--sample", type=click.IntRange(min=1), default=300, show_default=True, help="Articles asked, per set.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option("--limit", type=click.IntRange(min=0), default=4000, show_default=True,
              help="Articles indexed per set, at most (0: all); baomoi keeps every article with a copy.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write rows as JSON.")
def main(sets: str, systems: str, sample: int, seed: int, limit: int, json_path: Path | None) -> None:
    chosen = [s.strip() for s in systems.split(",") if s.strip()]
    names = [s.strip() for s in sets.split(",") if s.strip()]
    for kind, given, known in (("systems", chosen, SYSTEMS), ("sets", names, tuple(SETS))):
        if set(given) - set(known):
            raise click.BadParameter(f"unknown {kind}: {sorted(set(given) - set(known))}", param_hint=f"--{kind}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    rows: list[Row] = []
    for name in names:
        started = time.perf_counter()
        corpus = load_set(name, limit)
        ids = sample_ids(corpus, sample, seed, with_copies=SETS[name][1] is None)
        print(f"  {name}: {len(corpus.articles):,} articles, {len(corpus.groups):,} in copy groups, "
              f"{len(ids)} sampled ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        for row in evaluate(name, corpus, ids, chosen):
            rows.append(row)
            print(f"  {name}/{row.system}: P@10 {_fmt(row.metrics.p10)}", file=sys.stderr, flush=True)
    print()
    print_table(rows)
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        out = [{"set": r.set, "system": r.system, "load1": r.load1, **asdict(r.metrics)} for r in rows]
        json_path.write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
