"""Related-articles evaluation: related stories judged by labels the index never sees.

A corpus whose records carry a label (a section, a subcategory) is indexed without it and without any
other field that names it; for a seeded sample of its articles, the related stories are judged by whether
they share the article's label (precision at 5 and 10), and whether they list the article itself or a copy
of it (a record of the same copy group: the same story syndicated under another id). One module so that
``searchsvc eval --related`` and ``bench/related_peers.py`` judge every system alike: a run is
``{article id: [related ids, best first]}``.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searchsvc.articles import Article, article_from_mapping
from searchsvc.config import DEFAULTS
from searchsvc.evaluation import load_corpus

__all__ = [
    "LABEL_DERIVATIONS",
    "INDEXED_FIELDS",
    "JudgedCorpus",
    "RelatedMetrics",
    "label_of",
    "judge_records",
    "load_judged",
    "sample_ids",
    "precision_at",
    "score_related",
    "build_related_index",
    "run_searchsvc_related",
    "evaluate_related",
]

K = (5, 10)


def _crumbs(record: Mapping[str, Any]) -> list[str]:
    value = record.get("breadcrumb") or []
    parts = value.replace(" > ", " / ").split(" / ") if isinstance(value, str) else value
    return [str(p).strip() for p in parts if str(p).strip()]


# Labels that are not a field as such but read from one.
LABEL_DERIVATIONS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "breadcrumb-last": lambda r: (_crumbs(r) or [""])[-1],
    "breadcrumb-first": lambda r: (_crumbs(r) or [""])[0],
    # Section and subsection ("Thể thao > V-League"): VnExpress's third level is mostly a format (news,
    # match report, photos) that the same story's text shares with every competition.
    "breadcrumb-2": lambda r: " > ".join(_crumbs(r)[:2]),
}
# The only fields of a record that reach the index. Category, subcategory, breadcrumb, tags and the url
# (Dân Trí's holds the section's slug) would tell the ranking the answer.
INDEXED_FIELDS = ("id", "title", "lead", "body", "published", "author")


def label_of(record: Mapping[str, Any], label: str) -> str:
    """The record's label: a derivation from LABEL_DERIVATIONS, or the field of that name ("" when absent;
    a list, such as a breadcrumb, reads as its parts joined by " > ")."""
    if label in LABEL_DERIVATIONS:
        return LABEL_DERIVATIONS[label](record)
    value = record.get(label)
    if value is None:
        return ""
    if isinstance(value, list):
        return " > ".join(str(v).strip() for v in value if str(v).strip())
    return str(value).strip()


@dataclass(frozen=True)
class JudgedCorpus:
    """The articles as they are indexed, and what judges their related stories."""

    articles: tuple[Article, ...]
    labels: Mapping[str, str]  # article id → label; empty when the corpus is judged on copies alone
    groups: Mapping[str, str]  # article id → copy group, only for articles that have a copy
    skipped: int = 0  # records without the label, or that are not valid articles
    _members: dict[str, frozenset[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_group: dict[str, set[str]] = defaultdict(set)
        for article_id, group in self.groups.items():
            by_group[group].add(article_id)
        self._members.update({g: frozenset(ids) for g, ids in by_group.items()})

    def copies_of(self, article_id: str) -> frozenset[str]:
        group = self.groups.get(article_id)
        return self._members[group] - {article_id} if group is not None else frozenset()


def _indexable(record: Mapping[str, Any]) -> dict[str, Any]:
    kept = {name: record.get(name) for name in INDEXED_FIELDS}
    if not kept["title"] and isinstance(record.get("title_slug"), str):
        # Most Dân Trí records lack a headline; the URL slug is that headline without its diacritics.
        kept["title"] = record["title_slug"].replace("-", " ")
    return kept


def judge_records(records: Iterable[Mapping[str, Any]], label: str | None, copies: str | None = None,
                  max_chars: int | None = None) -> JudgedCorpus:
    """The records with a non-empty ``label`` (all valid records when ``label`` is None) as articles
    holding only INDEXED_FIELDS, with their labels and, from the field ``copies``, their copy groups."""
    limit = int(max_chars or DEFAULTS["MAX_ARTICLE_CHARS"])
    articles: dict[str, Article] = {}  # the last record of an id wins, as in a reindex
    labels: dict[str, str] = {}
    raw_groups: dict[str, str] = {}
    skipped = 0
    for record in records:
        value = label_of(record, label) if label is not None else ""
        if label is not None and not value:
            skipped += 1
            continue
        try:
            article = article_from_mapping(_indexable(record), limit)
        except ValueError:
            skipped += 1
            continue
        articles[article.id] = article
        labels[article.id] = value
        group = record.get(copies) if copies else None
        if group not in (None, ""):
            raw_groups[article.id] = str(group)
        else:
            raw_groups.pop(article.id, None)
    sizes: dict[str, int] = defaultdict(int)
    for group in raw_groups.values():
        sizes[group] += 1
    groups = {i: g for i, g in raw_groups.items() if sizes[g] > 1}  # a group of one has no copy
    return JudgedCorpus(tuple(articles.values()), labels if label is not None else {}, groups, skipped)


def load_judged(path: str | Path, label: str | None, copies: str | None = None,
                max_chars: int | None = None) -> JudgedCorpus:
    """:func:`judge_records` over a JSONL(.gz) corpus."""
    return judge_records(load_corpus(path), label, copies, max_chars)


def sample_ids(corpus: JudgedCorpus, n: int, seed: int = 0, with_copies: bool = False) -> list[str]:
    """``n`` article ids drawn with ``seed`` (from those with a copy, if asked): the same for every system
    and every order of the corpus."""
    pool = sorted(i for a in corpus.articles if (i := a.id) in corpus.groups or not with_copies)
    return random.Random(seed).sample(pool, min(n, len(pool)))


@dataclass(frozen=True, slots=True)
class RelatedMetrics:
    label: str | None
    articles: int  # in the index
    sampled: int
    p5: float | None  # None when there are no labels to judge by
    p10: float | None
    returned: float  # mean related stories returned per article
    self_matches: int  # lists holding the article itself
    with_copies: int  # sampled articles that have a copy in the corpus
    copies_listed: int  # of those, how many had a copy in their list: lower is better
    # Filled by the run when measured; 0 otherwise.
    index_seconds: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0


def precision_at(related: list[str], label: str, labels: Mapping[str, str], k: int) -> float:
    """Share of the first ``k`` slots holding a story of ``label``; a slot left empty is a miss, and a story
    listed twice is credited once."""
    return sum(1 for other in list(dict.fromkeys(related))[:k] if labels.get(other) == label) / k


def score_related(run: Mapping[str, list[str]], corpus: JudgedCorpus, label: str | None = None,
                  timings_ms: list[float] | None = None, index_seconds: float = 0.0) -> RelatedMetrics:
    """Judge a run over its articles; ``label`` names what the labels are, for the report."""
    n = len(run)
    judged = bool(corpus.labels) and n > 0
    with_copies = [i for i in run if i in corpus.groups]
    precision = {k: sum(precision_at(ids, corpus.labels.get(i, ""), corpus.labels, k) for i, ids in run.items())
                 / n if judged else None for k in K}
    ms = sorted(timings_ms or [])
    return RelatedMetrics(
        label=label, articles=len(corpus.articles), sampled=n, p5=precision[5], p10=precision[10],
        returned=sum(len(ids) for ids in run.values()) / n if n else 0.0,
        self_matches=sum(1 for i, ids in run.items() if i in ids),
        with_copies=len(with_copies),
        copies_listed=sum(1 for i in with_copies if corpus.copies_of(i).intersection(run[i])),
        index_seconds=index_seconds, p50_ms=_percentile(ms, 0.50), p95_ms=_percentile(ms, 0.95),
    )


def _percentile(ordered: list[float], q: float) -> float:
    # Nearest rank: an observed time, never an interpolation between two.
    return ordered[min(len(ordered), max(1, math.ceil(q * len(ordered)))) - 1] if ordered else 0.0


# ---------------------------------------------------------------------------------------------- searchsvc


def build_related_index(corpus: JudgedCorpus, home: Path, procs: int = 1) -> float:
    """Index the corpus's articles with searchsvc into the index home ``home``; returns seconds."""
    from searchsvc.store.writer import build_index

    started = time.perf_counter()
    build_index(corpus.articles, home, procs=procs, quiet=True)
    return time.perf_counter() - started


def run_searchsvc_related(home: Path, ids: Iterable[str], limit: int = 10,
                          settings: Mapping[str, Any] | None = None) -> tuple[dict[str, list[str]], list[float]]:
    """``engine.related`` for each id: the run, and each call's milliseconds."""
    from searchsvc.search.engine import Engine

    # No warm-up thread: it would take the engine's lock between the calls being timed.
    engine = Engine.open(home, {**(settings or {}), "WARM_TERMS": 0})
    run: dict[str, list[str]] = {}
    timings: list[float] = []
    for article_id in ids:
        started = time.perf_counter()
        found = engine.related(article_id, limit=limit)
        timings.append(1000 * (time.perf_counter() - started))
        run[article_id] = [r.hit.id for r in found]
    return run, timings


def evaluate_related(corpus_path: str | Path, label: str | None, copies: str | None = None, sample: int = 300,
                     seed: int = 0, limit: int = 10, procs: int = 1, settings: Mapping[str, Any] | None = None,
                     index_dir: Path | None = None) -> RelatedMetrics:
    """Index ``corpus_path`` without its labels in a temporary home (or ``index_dir``), ask searchsvc for the
    related stories of a seeded sample and judge them. Without a ``label`` only copies can be judged, so the
    sample is drawn from the articles with a copy. Raises ValueError when no article can be judged."""
    if label is None and copies is None:
        raise ValueError("give a label, a copy-group field, or both")
    settings = settings or {}
    corpus = load_judged(corpus_path, label, copies, int(settings.get("MAX_ARTICLE_CHARS") or 0) or None)
    ids = sample_ids(corpus, sample, seed, with_copies=label is None)
    if not ids:
        what = f"a non-empty {label!r}" if label is not None else f"a copy (by {copies!r})"
        raise ValueError(f"no article in {corpus_path} has {what}")
    with tempfile.TemporaryDirectory(prefix="searchsvc-related-") as tmp:
        home = index_dir or Path(tmp) / "index"
        seconds = build_related_index(corpus, home, procs)
        run, timings = run_searchsvc_related(home, ids, limit, settings)
    return score_related(run, corpus, label, timings, seconds)
