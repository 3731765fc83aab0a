"""Retrieval evaluation: set loaders, IR metrics, query forms, and a run of searchsvc itself.

One module so that benchmarks and tests measure every system the same way: a run is
``{query id: [doc ids, best first]}`` scored against TREC qrels.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = [
    "Query",
    "Metrics",
    "load_queries",
    "load_qrels",
    "load_corpus",
    "mrr_at",
    "ndcg_at",
    "recall_at",
    "score_run",
    "query_variants",
    "no_diacritics",
    "telex",
    "build_searchsvc_index",
    "search_searchsvc",
    "SearchsvcRun",
    "run_searchsvc",
    "restrict_qrels",
]


@dataclass(frozen=True, slots=True)
class Query:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class Metrics:
    mrr10: float
    ndcg10: float
    recall10: float
    recall100: float
    queries: int  # queries that have at least one relevant document in the qrels
    # Filled by run_searchsvc so a benchmark can report cost next to quality; 0 when not measured.
    index_seconds: float = 0.0
    query_ms: float = 0.0


# ---------------------------------------------------------------------------------------------- loaders


def _open_text(path: Path) -> IO[str]:
    # newline="\n": records may contain U+2028 or a stray \r, which must not end a JSONL line.
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    return path.open(encoding="utf-8", newline="\n")


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with _open_text(path) as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_queries(path: str | Path) -> list[Query]:
    """Queries from JSONL ``{id, text, ...}``; extra keys (answers) are ignored."""
    return [Query(str(rec["id"]), str(rec["text"])) for rec in _jsonl(Path(path))]


def load_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """TREC qrels ``qid 0 docid rel`` (any whitespace) → ``{qid: {docid: rel}}``."""
    qrels: dict[str, dict[str, int]] = {}
    with _open_text(Path(path)) as fh:
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4:
                raise ValueError(f"{path}:{n}: expected 'qid 0 docid rel', got {line.rstrip()!r}")
            qid, _, docid, rel = parts
            qrels.setdefault(qid, {})[docid] = int(rel)
    return qrels


def load_corpus(path: str | Path) -> Iterator[dict[str, Any]]:
    """Documents from JSONL or ``.jsonl.gz`` ``{id, title?, body, ...}``, one at a time."""
    return _jsonl(Path(path))


# ---------------------------------------------------------------------------------------------- metrics


def _dedupe(ranked: list[str], k: int) -> list[str]:
    # A system that returns a document twice must not be credited twice.
    seen: set[str] = set()
    out: list[str] = []
    for doc in ranked:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
            if len(out) == k:
                break
    return out


def mrr_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant (rel > 0) document in the top ``k``; 0 if none."""
    for i, doc in enumerate(_dedupe(ranked, k)):
        if rel.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def ndcg_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    """nDCG with linear gain (trec_eval's): sum rel / log2(rank + 1), over the ideal ordering's."""
    dcg = sum(max(rel.get(doc, 0), 0) / math.log2(i + 2) for i, doc in enumerate(_dedupe(ranked, k)))
    ideal = sorted((r for r in rel.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: list[str], rel: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the top ``k``; 0 when there are none to find."""
    relevant = {doc for doc, r in rel.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_dedupe(ranked, k))) / len(relevant)


def score_run(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> Metrics:
    """Mean metrics over the queries with a relevant document; a query missing from ``run`` scores 0."""
    judged = [(qid, rel) for qid, rel in qrels.items() if any(r > 0 for r in rel.values())]
    if not judged:
        return Metrics(0.0, 0.0, 0.0, 0.0, 0)
    n = len(judged)
    return Metrics(
        mrr10=sum(mrr_at(run.get(q, []), rel, 10) for q, rel in judged) / n,
        ndcg10=sum(ndcg_at(run.get(q, []), rel, 10) for q, rel in judged) / n,
        recall10=sum(recall_at(run.get(q, []), rel, 10) for q, rel in judged) / n,
        recall100=sum(recall_at(run.get(q, []), rel, 100) for q, rel in judged) / n,
        queries=n,
    )


# ---------------------------------------------------------------------------------------------- query forms

_COMBINING = re.compile(r"[\u0300-\u036f]")
# Telex keys: a quality mark is typed right after its letter, the tone after the whole syllable.
_QUALITY_KEYS = {"\u0306": "w", "\u031b": "w", "\u0302": None}  # None: repeat the letter (â → aa)
_TONE_KEYS = {"\u0300": "f", "\u0301": "s", "\u0309": "r", "\u0303": "x", "\u0323": "j"}
_LETTER_RUN = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f])+")


def no_diacritics(text: str) -> str:
    """``text`` with every combining mark removed and ``đ`` → ``d``, case kept (NFC result)."""
    stripped = _COMBINING.sub("", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFC", stripped.replace("đ", "d").replace("Đ", "D"))


def _telex_syllable(run: str) -> str:
    out: list[str] = []
    tone = ""
    upper = True
    letters = 0
    for ch in run:
        if ch in _TONE_KEYS:
            tone = _TONE_KEYS[ch]
        elif ch in _QUALITY_KEYS and out:
            key = _QUALITY_KEYS[ch]
            base = out[-1][0]
            out[-1] += base if key is None else (key.upper() if base.isupper() else key)
        elif ch in "đĐ":
            out.append("dd" if ch == "đ" else "DD")
            letters += 1
            upper = upper and ch == "Đ"
        elif _COMBINING.match(ch):
            continue  # marks Telex cannot type (French é is typed as e + s, but ü has no key)
        else:
            out.append(ch)
            letters += 1
            upper = upper and ch.isupper()
    # A tone typed in an all-caps word is a capital too (HÀ → HAF); otherwise lowercase.
    return "".join(out) + (tone.upper() if upper and letters > 1 else tone)


def telex(text: str) -> str:
    """``text`` as typed on a Telex keyboard with the input method off (``Hà Nội`` → ``Haf Nooij``)."""
    decomposed = unicodedata.normalize("NFD", text)
    return _LETTER_RUN.sub(lambda m: _telex_syllable(m.group()), decomposed)


def query_variants(text: str) -> dict[str, str]:
    """The three forms every benchmark runs: ``as_written``, ``no_diacritics`` and ``telex``."""
    return {"as_written": text, "no_diacritics": no_diacritics(text), "telex": telex(text)}


# ---------------------------------------------------------------------------------------------- searchsvc


def _article(doc: dict[str, Any]) -> Any:
    from searchsvc.articles import Article

    # XQuAD titles are Wikipedia page names (Super_Bowl_50).
    title = str(doc.get("title") or "").replace("_", " ")
    return Article(id=str(doc["id"]), title=title, body=str(doc.get("body") or ""), lead=str(doc.get("lead") or ""))


def build_searchsvc_index(corpus_path: str | Path, index_dir: Path, procs: int = 1) -> float:
    """Index an evaluation corpus with searchsvc into the index home ``index_dir``; returns seconds."""
    from searchsvc.store.writer import build_index

    started = time.perf_counter()
    build_index((_article(d) for d in load_corpus(corpus_path)), index_dir, procs=procs, quiet=True)
    return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class SearchsvcRun:
    run: dict[str, list[str]]
    query_ms: float  # mean over the queries searched
    rejected: int  # queries searchsvc refused (InputError, e.g. over its term limit): scored as no results


def search_searchsvc(index_dir: Path, queries: Iterable[Query], depth: int = 100,
                     recency: bool = False) -> SearchsvcRun:
    """Run ``queries`` against a searchsvc index, top ``depth`` each (recency off unless asked:
    judged sets have no notion of "now")."""
    from searchsvc.errors import InputError
    from searchsvc.search.engine import Engine, SearchRequest

    # No warm-up thread: it reads every headline in the background, taking the engine's lock between the
    # queries being timed.
    engine = Engine.open(index_dir, {"WARM_TERMS": 0})
    run: dict[str, list[str]] = {}
    elapsed = 0.0
    rejected = 0
    for q in queries:
        started = time.perf_counter()
        try:
            result = engine.search(
                SearchRequest(q=q.text, per_page=depth, highlight=False, facets=False, recency=recency)
            )
        except InputError:
            # The service's own limits apply to evaluation too: a refused query finds nothing.
            rejected += 1
            run[q.id] = []
            continue
        finally:
            elapsed += time.perf_counter() - started
        run[q.id] = [hit.id for hit in result.hits]
    return SearchsvcRun(run, 1000 * elapsed / max(len(run), 1), rejected)


def run_searchsvc(
    corpus_path: str | Path,
    queries: list[Query],
    qrels: dict[str, dict[str, int]],
    index_dir: Path | None = None,
    procs: int = 1,
    recency: bool = False,
) -> Metrics:
    """Index ``corpus_path`` with searchsvc, run ``queries`` (top 100), and score them.

    With ``index_dir`` holding an index already (from :func:`build_searchsvc_index`), it is reused,
    so several query forms can share one build; otherwise a temporary index is built and removed.
    """
    if index_dir is not None and index_dir.exists() and any(index_dir.iterdir()):
        found = search_searchsvc(index_dir, queries, recency=recency)
        return _with_costs(score_run(found.run, restrict_qrels(qrels, queries)), 0.0, found.query_ms)
    with tempfile.TemporaryDirectory(prefix="searchsvc-eval-") as tmp:
        home = index_dir or Path(tmp) / "index"
        seconds = build_searchsvc_index(corpus_path, home, procs=procs)
        found = search_searchsvc(home, queries, recency=recency)
    return _with_costs(score_run(found.run, restrict_qrels(qrels, queries)), seconds, found.query_ms)


def restrict_qrels(qrels: dict[str, dict[str, int]], queries: Iterable[Query]) -> dict[str, dict[str, int]]:
    # Score only the queries that were run, so --limit-queries gives a mean over those queries.
    ids = {q.id for q in queries}
    return {qid: rel for qid, rel in qrels.items() if qid in ids}


def _with_costs(m: Metrics, index_seconds: float, query_ms: float) -> Metrics:
    return Metrics(m.mrr10, m.ndcg10, m.recall10, m.recall100, m.queries, index_seconds, query_ms)
