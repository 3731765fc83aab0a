"""Search: one code path for the API, the CLI and ``searchsvc eval``.

An ``Engine`` holds the serving generation's searcher and the caches derived from it (vocabulary,
facet maps, suggestions) and reopens them when a reindex publishes a new generation or an add/delete
commits. Calls are serialised by a lock: Whoosh readers are not documented as thread-safe.
"""

from __future__ import annotations

import heapq
import struct
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.index import EmptyIndexError
from whoosh.index import IndexError as WhooshIndexError

from searchsvc import related as related_mod
from searchsvc.analysis import fold_text
from searchsvc.articles import VIETNAM_TZ
from searchsvc.codec import open_index
from searchsvc.config import DEFAULTS
from searchsvc.errors import IndexUnavailable, InputError, NotFound
from searchsvc.generations import Generation, IndexHome
from searchsvc.matching import Plan, plan
from searchsvc.query import parse
from searchsvc.scoring import CACHED_POSITIONS, Evaluator, ReaderStats
from searchsvc.snippets import Marker, best_fragment, highlight_all
from searchsvc.vocabulary import Vocabulary, load_or_build


@dataclass(frozen=True)
class SearchRequest:
    q: str = ""
    tags: tuple[str, ...] = ()
    category: str | None = None
    author: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "relevance"  # or "newest"
    page: int = 1
    per_page: int = 10
    highlight: bool = True
    facets: bool = True
    recency: bool = True


@dataclass(frozen=True)
class Hit:
    id: str
    title: str
    url: str
    published: str | None
    category: str
    tags: list[str]
    author: str
    source: str
    score: float
    title_html: str
    snippet_html: str


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    took_ms: float
    did_you_mean: str | None
    all_words_total: int | None  # results holding every word (they come first); None for a question
    partial: bool
    page: int
    per_page: int

    @property
    def all_words_matched(self) -> bool:
        """Every result holds every word of the query (a question's results are not sorted that way)."""
        return self.all_words_total is not None and self.all_words_total == self.total


@dataclass(frozen=True)
class RelatedHit:
    hit: Hit
    shared_tags: list[str]
    shared_terms: list[str]


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: str  # "title" | "tag"


@dataclass
class _Derived:
    """Per-reader caches, rebuilt lazily after the reader changes."""

    tag_ids: dict[str, np.ndarray] | None = None  # folded tag key → its live docnums
    category_keys: list[str] = field(default_factory=list)
    category_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # docnum → index
    stats: ReaderStats | None = None
    published: np.ndarray | None = None
    tag_display: dict[str, str] = field(default_factory=dict)  # folded key → as written
    tag_counts: Counter[str] = field(default_factory=Counter)
    category_display: dict[str, str] = field(default_factory=dict)
    titles: list[tuple[str, str, int]] | None = None  # (folded title, title, published_ts)
    results: OrderedDict[SearchRequest, SearchResult] = field(default_factory=OrderedDict)  # LRU
    columns: dict[str, list[Any]] = field(default_factory=dict)  # field → value per docnum


class Engine:
    def __init__(self, home: IndexHome, settings: Mapping[str, Any]) -> None:
        self.home = home
        self.settings = {**DEFAULTS, **settings}
        self._lock = threading.RLock()
        self._gen: Generation | None = None
        self._searcher: Any = None
        self._ix: Any = None
        self._vocab: Vocabulary | None = None
        self._derived = _Derived()
        self._checked = 0.0
        self._open()

    @classmethod
    def open(cls, index_dir: Path | str, settings: Mapping[str, Any] | None = None) -> Engine:
        return cls(IndexHome(index_dir), settings or {})

    # -- lifecycle -------------------------------------------------------------------------------

    def _open(self) -> None:
        gen = self.home.current()
        self.home.meta(gen)
        try:
            ix = open_index(gen.path)
            searcher = ix.searcher()
        except (EmptyIndexError, WhooshIndexError, struct.error, OSError, ValueError, EOFError) as exc:
            raise IndexUnavailable(f"index generation {gen.path} cannot be opened: {exc}") from None
        old = self._searcher
        self._ix, self._gen, self._searcher = ix, gen, searcher
        self._vocab = load_or_build(gen.path, searcher.reader())
        self._derived = _Derived()
        self._checked = time.monotonic()
        if old is not None:
            old.close()

    def refresh(self) -> None:
        """Pick up a new generation or committed changes; at most once per RELOAD_INTERVAL."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked < float(self.settings["RELOAD_INTERVAL"]):
                return
            self._checked = now
            gen = self.home.current()
            if self._gen is None or gen.path != self._gen.path:
                self._open()
            elif not self._searcher.up_to_date():
                # A fresh searcher, not Searcher.refresh(): that reuses segment readers and keeps
                # their old deletion sets, so a deleted article would still be found.
                old, self._searcher = self._searcher, self._ix.searcher()
                old.close()
                self._derived = _Derived()

    @property
    def searcher(self) -> Any:
        return self._searcher

    @property
    def vocabulary(self) -> Vocabulary:
        assert self._vocab is not None
        return self._vocab

    def health(self) -> dict[str, Any]:
        with self._lock:
            assert self._gen is not None
            return {"generation": self._gen.number, "doc_count": self._searcher.doc_count()}

    def state_tag(self) -> str:
        """Changes whenever what a query could return changes (for ETags): the generation and the
        Whoosh commit this worker is serving, not what is on disk."""
        with self._lock:
            assert self._gen is not None
            return f"{self._gen.number}-{self._searcher.reader().generation()}-{self._searcher.doc_count_all()}"

    # -- search ----------------------------------------------------------------------------------

    def _validate(self, req: SearchRequest) -> None:
        s = self.settings
        if len(req.q) > int(s["MAX_QUERY_CHARS"]):
            raise InputError(f"query is {len(req.q)} characters long; the limit is {s['MAX_QUERY_CHARS']}")
        if not 1 <= req.per_page <= int(s["MAX_PER_PAGE"]):
            raise InputError(f"per_page must be between 1 and {s['MAX_PER_PAGE']}")
        if req.page < 1:
            raise InputError("page must be 1 or more")
        if req.page * req.per_page > int(s["MAX_RESULT_WINDOW"]):
            raise InputError(f"results beyond the first {s['MAX_RESULT_WINDOW']} cannot be paged to; refine the query")
        if req.sort not in ("relevance", "newest"):
            raise InputError("sort must be 'relevance' or 'newest'")

    def search(self, req: SearchRequest) -> SearchResult:
        self._validate(req)
        started = time.perf_counter()
        parsed = parse(req.q)
        terms = parsed.terms + len(req.tags) + (req.category is not None) + (req.author is not None)
        if terms > int(self.settings["MAX_QUERY_TERMS"]):
            raise InputError(f"the query has {terms} terms; the limit is {self.settings['MAX_QUERY_TERMS']}")
        with self._lock:
            cached = self._derived.results.get(req)
            if cached is not None:
                # The cache lives in the per-reader state, so any index change empties it.
                self._derived.results.move_to_end(req)
                took = round((time.perf_counter() - started) * 1000, 2)
                return replace(cached, took_ms=took)
            result = self._search(parsed, req, started)
            # News search traffic repeats itself (the day's stories): answers are kept per worker.
            if int(self.settings["RESULT_CACHE"]) > 0:
                self._derived.results[req] = result
                if len(self._derived.results) > int(self.settings["RESULT_CACHE"]):
                    self._derived.results.popitem(last=False)
            return result

    def _search(self, parsed: Any, req: SearchRequest, started: float) -> SearchResult:
        p = plan(parsed, self.vocabulary, req.q)
        filt = self._filter(p, req)
        result = self._run(p, filt, req)
        if result.total == 0 and p.corrected and p.corrected != req.q:
            # Fuzzy fallback: nothing matched what was typed; show what the vocabulary suggests.
            p2 = plan(parse(p.corrected), self.vocabulary, p.corrected)
            retry = self._run(p2, filt, req)
            if retry.total:
                result = retry
        did_you_mean = p.corrected if p.corrected and result.total < 5 * req.per_page else None
        took = (time.perf_counter() - started) * 1000
        return SearchResult(result.total, result.hits, result.facets, round(took, 2), did_you_mean,
                            result.all_words_total, result.partial, req.page, req.per_page)

    def _filter(self, p: Plan, req: SearchRequest) -> wq.Query | None:
        parts = list(p.filters)
        parts += [wq.Term("tag_key", fold_text(t)) for t in req.tags if fold_text(t)]
        if req.category:
            parts.append(wq.Term("category_key", fold_text(req.category)))
        if req.author:
            parts.append(wq.Term("author_key", fold_text(req.author)))
        if req.date_from or req.date_to:
            lo = _day_start(req.date_from) if req.date_from else None
            hi = _day_start(req.date_to) + 86400 - 1 if req.date_to else None
            parts.append(wq.NumericRange("published_ts", lo, hi))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else wq.And(parts)

    def _run(self, p: Plan, filt: wq.Query | None, req: SearchRequest) -> SearchResult:
        window = req.page * req.per_page
        every: int | None = None  # results holding every word; None when the tiers do not apply
        ev = self._evaluator()
        if p.strict is None:
            docs, scores = self._collect(ev, wq.Every(), filt, p.excluded, "newest", False)
        else:
            docs, scores = self._collect(ev, p.strict, filt, p.excluded, req.sort, req.recency)
            if not p.question:  # a question is ranked over all its words: no tiers
                every = len(docs)
            # Decided once per query, never by the page asked for, so every page has the same total: when
            # few articles hold every word, articles holding some of the words follow them.
            if p.loose is not None and len(docs) < int(self.settings["ALL_WORDS_MIN"]):
                more, more_scores = self._collect(ev, p.loose, filt, p.excluded, req.sort, req.recency)
                extra = ~np.isin(more, docs)
                docs = np.concatenate([docs, more[extra]])
                scores = np.concatenate([scores, more_scores[extra]])
        start = (req.page - 1) * req.per_page
        hits = [self._hit(int(d), float(sc), p.marker, req.highlight)
                for d, sc in zip(docs[start:window], scores[start:window])]
        facets = self._facets(docs) if req.facets else {}
        return SearchResult(len(docs), hits, facets, 0.0, None, every, ev.partial, req.page, req.per_page)

    def _evaluator(self) -> Evaluator:
        deadline = time.monotonic() + float(self.settings["QUERY_TIME_LIMIT"])
        return Evaluator(self._derived_stats(), self._searcher, self.published(), deadline)

    def _collect(self, ev: Evaluator, q: wq.Query, filt: wq.Query | None, excluded: wq.Query | None,
                 sort: str, recency: bool) -> tuple[np.ndarray, np.ndarray]:
        """Every matching document, in order, with its score."""
        if excluded is not None:
            q = wq.AndNot(q, excluded)
        if filt is not None:
            q = wq.And([q, wq.ConstantScoreQuery(filt, 0.0)])
        v = ev.run(q)
        docs = np.flatnonzero(v.match)
        if sort == "newest":
            # Newest first; undated articles last; ties by document order.
            order = np.lexsort((docs, -self.published()[docs]))
            return docs[order], np.zeros(len(docs), np.float32)
        scores = v.score[docs]
        weight = float(self.settings["RECENCY_WEIGHT"])
        if recency and weight > 0:
            # A mild lift for recent articles: score × (1 + weight × 0.5^(age / half-life)).
            ts = self.published()[docs].astype(np.float64)
            half = float(self.settings["RECENCY_HALF_LIFE_DAYS"]) * 86400
            age = np.maximum(0.0, time.time() - ts)
            scores = scores * (1 + np.where(ts > 0, weight * 0.5 ** (age / half), 0.0)).astype(np.float32)
        order = np.argsort(-scores, kind="stable")
        return docs[order], scores[order]

    def column(self, name: str, default: Any) -> list[Any]:
        """A sortable field's value for every docnum, read once per reader.

        Read segment by segment: Whoosh's multi-segment column reader fails when one segment has no
        value at all for the field (a batch of articles without dates).
        """
        col = self._derived.columns.get(name)
        if col is None:
            col = []
            for sub, _offset in self._searcher.reader().leaf_readers():
                if sub.has_column(name):
                    col.extend(sub.column_reader(name))
                else:
                    col.extend([default] * sub.doc_count_all())
            self._derived.columns[name] = col
        return col

    def published(self) -> np.ndarray:
        """Publication time (epoch seconds) per docnum; 0 when unknown."""
        d = self._derived
        if d.published is None:
            # Whoosh fills a missing NUMERIC value with the type's maximum.
            raw = np.asarray(self.column("published_ts", 0), dtype=np.int64)
            d.published = np.where((raw > 0) & (raw < 2**62), raw, 0)
        return d.published

    # -- hits, facets ----------------------------------------------------------------------------

    def _hit(self, docnum: int, score: float, marker: Marker, highlight: bool) -> Hit:
        f = self._searcher.stored_fields(docnum)
        title = f.get("title", "")
        if highlight:
            title_html = highlight_all(title, marker)
            snippet = best_fragment([f.get("lead", ""), f.get("body", "")], marker)
        else:
            title_html = snippet = ""
        return Hit(f["id"], title, f.get("url") or "", f.get("published"), f.get("category") or "",
                   list(f.get("tags") or []), f.get("author") or "", f.get("source") or "", round(score, 4),
                   title_html, snippet)

    def _tag_maps(self) -> _Derived:
        d = self._derived
        if d.tag_ids is None:
            reader = self._searcher.reader()
            stats = self._derived_stats()
            tag_ids: dict[str, np.ndarray] = {}
            for key in reader.field_terms("tag_key"):
                ids, _ = stats.postings("tag_key", key)
                ids = ids[stats.live[ids]]
                if not len(ids):
                    continue
                tag_ids[key] = ids
                d.tag_counts[key] = len(ids)
                stored = reader.stored_fields(int(ids[0]))
                d.tag_display[key] = next((t for t in stored.get("tags") or [] if fold_text(t) == key), key)
            keys = [""]
            codes = np.zeros(stats.n, np.int64)
            for key in reader.field_terms("category_key"):
                ids, _ = stats.postings("category_key", key)
                ids = ids[stats.live[ids]]
                if key and len(ids):
                    codes[ids] = len(keys)
                    keys.append(key)
                    d.category_display[key] = reader.stored_fields(int(ids[0])).get("category") or key
            d.category_keys, d.category_codes, d.tag_ids = keys, codes, tag_ids
        return d

    def _facets(self, docs: np.ndarray) -> dict[str, list[FacetValue]]:
        d = self._tag_maps()
        assert d.tag_ids is not None
        mask = np.zeros(self._derived_stats().n, bool)
        mask[docs] = True
        tags = Counter({key: int(mask[ids].sum()) for key, ids in d.tag_ids.items()})
        codes = d.category_codes[docs]
        counts = np.bincount(codes, minlength=len(d.category_keys)) if len(codes) else np.zeros(0, np.int64)
        cats = Counter({d.category_keys[i]: int(n) for i, n in enumerate(counts) if n and d.category_keys[i]})
        return {
            "category": [FacetValue(d.category_display.get(k, k), n) for k, n in cats.most_common(20)],
            "tags": [FacetValue(d.tag_display.get(k, k), n) for k, n in tags.most_common(30) if n],
        }

    def _derived_stats(self) -> ReaderStats:
        if self._derived.stats is None:
            limit = int(self.settings["POSTINGS_CACHE_MB"]) * 2**20
            self._derived.stats = ReaderStats.of(self._searcher.reader(), limit)
            if int(self.settings["WARM_TERMS"]) > 0:
                threading.Thread(target=self._warm, args=(self._derived,), daemon=True, name="warm").start()
        return self._derived.stats

    def _warm(self, derived: _Derived) -> None:
        """Read the index's most common words before queries need them (a new reader starts cold).

        Segments are read decode-free (flatpostings.py): warming them brings their pages into the page
        cache, once for every worker. A segment without flat postings (an index written before them) is
        decoded, tens of milliseconds for a common word, and the first queries would pay for it. One word
        at a time under the engine's lock, so searches interleave; up to half the postings cache, so what
        real queries bring in keeps its room. Stops when the reader changes. Best effort: any failure just
        ends it (the index may have moved on).
        """
        vocab = self.vocabulary
        n = int(self.settings["WARM_TERMS"])
        by_df = heapq.nlargest(n, chain(((df, "text_fold", t) for t, df in vocab.fold_df.items()),
                                        ((df, "text", t) for t, df in vocab.exact_df.items())))
        try:
            for _, fieldname, term in by_df:
                with self._lock:
                    stats = derived.stats
                    if self._derived is not derived or stats is None or stats.cached_bytes > stats.cache_limit // 2:
                        return
                    if len(stats.postings(fieldname, term)[0]) >= CACHED_POSITIONS:
                        stats.positions(fieldname, term)
        except Exception:  # noqa: BLE001  (a warm-up is an optimisation; the searches report real errors)
            return

    # -- articles, tags, suggestions, related ------------------------------------------------------

    def _docnum(self, article_id: str) -> int:
        # docs_for_query skips deleted documents; Searcher.document_number() does not.
        for docnum in self._searcher.docs_for_query(wq.Term("id", article_id)):
            return int(docnum)
        raise NotFound(f"no article with id {article_id!r}")

    def article(self, article_id: str) -> dict[str, Any]:
        with self._lock:
            stored = dict(self._searcher.stored_fields(self._docnum(article_id)))
        keys = ("id", "title", "lead", "body", "url", "published", "category", "tags", "author", "source")
        return {k: stored.get(k) if k != "tags" else list(stored.get("tags") or []) for k in keys}

    def tags(self, prefix: str = "", limit: int = 20) -> list[FacetValue]:
        key = fold_text(prefix)
        with self._lock:
            d = self._tag_maps()
            found = [(k, n) for k, n in d.tag_counts.items() if k.startswith(key) or f" {key}" in k]
            found.sort(key=lambda kn: (not kn[0].startswith(key), -kn[1], kn[0]))
            return [FacetValue(d.tag_display.get(k, k), n) for k, n in found[:limit]]

    def tag_articles(self, tag: str, limit: int = 20) -> list[Hit]:
        req = SearchRequest(tags=(tag,), sort="newest", per_page=min(limit, int(self.settings["MAX_PER_PAGE"])),
                            facets=False)
        return self.search(req).hits

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        key = fold_text(prefix)
        if not key:
            return []
        out = [Suggestion(t.value, "tag") for t in self.tags(prefix, limit=3)]
        with self._lock:
            titles = self._titles()
        starts = [t for t in titles if t[0].startswith(key)]
        inner = [t for t in titles if f" {key}" in t[0] and not t[0].startswith(key)]
        for _, title, _ in (starts + inner)[: max(0, limit - len(out))]:
            out.append(Suggestion(title, "title"))
        return out

    def _titles(self) -> list[tuple[str, str, int]]:
        d = self._derived
        if d.titles is None:
            reader = self._searcher.reader()
            col = self.published()
            items = []
            for docnum, fields in reader.iter_docs():
                title = fields.get("title") or ""
                items.append((fold_text(title), title, col[docnum] or 0))
            items.sort(key=lambda t: -t[2])  # newest first among equal matches
            d.titles = items
        return d.titles

    def related(self, article_id: str, limit: int = 10) -> list[RelatedHit]:
        with self._lock:
            docnum = self._docnum(article_id)
            stored = self._searcher.stored_fields(docnum)
            return related_mod.related(self, stored, limit, exclude=docnum)

    def related_to_text(self, title: str, body: str, limit: int = 10) -> list[RelatedHit]:
        if not (title or body).strip():
            raise InputError("give a title or a body to find related articles")
        with self._lock:
            return related_mod.related(self, {"title": title, "body": body}, limit, exclude=None)

    def hit(self, docnum: int, score: float, marker: Marker | None = None) -> Hit:
        return self._hit(docnum, score, marker or Marker(frozenset(), frozenset()), highlight=marker is not None)


_EPOCH_DAY = date(1970, 1, 1).toordinal()
_VIETNAM_OFFSET = int(VIETNAM_TZ.utcoffset(None).total_seconds())


def _day_start(d: date) -> int:
    """Midnight in Vietnam at the start of ``d``, in epoch seconds. Integer arithmetic: datetime overflows
    at the ends of its range (``from=0001-01-01`` in UTC+7 is before year 1; the day after 9999-12-31 is none)."""
    return (d.toordinal() - _EPOCH_DAY) * 86400 - _VIETNAM_OFFSET
