"""Search: one code path for the API, the CLI and ``searchsvc eval``.

An ``Engine`` holds the serving generation's Snapshot and what is derived from it (facet maps,
headlines for suggestions, the answer cache), and moves to the next snapshot when a reindex publishes
a new generation or an add/delete commits. Calls are serialised by a lock. A search is planned
(``query.plan``), evaluated over the snapshot (``evaluate.py``) in two tiers decided once per query,
filtered, ordered (relevance with a mild recency lift, or newest), and its page highlighted.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from searchsvc.analysis import fold_text
from searchsvc.articles import VIETNAM_TZ
from searchsvc.config import DEFAULTS
from searchsvc.errors import InputError, NotFound
from searchsvc.query.evidence import Votes
from searchsvc.query.nodes import And, AndNot, DateRange, Every, Filter, Node, Term, all_of
from searchsvc.query.parse import parse
from searchsvc.query.plan import Plan, plan
from searchsvc.search import feedback
from searchsvc.search import related as related_mod
from searchsvc.search.evaluate import Evaluator
from searchsvc.search.facets import Facets
from searchsvc.search.hits import hit
from searchsvc.search.postings import TermCache
from searchsvc.search.prune import Collected, collect
from searchsvc.search.recency import lift
from searchsvc.search.results import (
    FacetValue,
    Hit,
    RelatedHit,
    SearchRequest,
    SearchResult,
    Suggestion,
    validate,
)
from searchsvc.search.suggest import Titles, headline_rows
from searchsvc.store.home import IndexHome
from searchsvc.store.snapshot import Snapshot

WARM_BATCH = 256  # stored records read at a time, under the engine's lock, to build the suggestion tables
WARM_POSITIONS = 2000  # a warmed word this common has its positions read too (phrases of it recur)


class _Derived:
    """What is built from one snapshot, lazily, and dropped with it."""

    def __init__(self, snapshot: Snapshot, term_cache_mb: float) -> None:
        self.snapshot = snapshot
        self.terms = TermCache(int(term_cache_mb * 2**20))
        self._facets: Facets | None = None
        self._titles: Titles | None = None
        self.results: OrderedDict[SearchRequest, SearchResult] = OrderedDict()  # LRU

    @property
    def facets(self) -> Facets:
        if self._facets is None:
            self._facets = Facets(self.snapshot)
        return self._facets

    @property
    def titles(self) -> Titles:
        if self._titles is None:
            self._titles = Titles(self.snapshot)
        return self._titles

    def headline(self, docnum: int) -> tuple[str, str]:
        """A document's headline and its ``fold_text``: from the suggestion tables once built (a stored
        record is read whole)."""
        if self._titles is not None:
            return self._titles.headline(docnum)
        title = str(self.snapshot.stored(docnum).get("title") or "")
        return title, fold_text(title)

    @property
    def has_titles(self) -> bool:
        return self._titles is not None

    def offer_titles(self, titles: Titles) -> None:
        """Titles built in the background (the caller holds the engine's lock), unless a request built them."""
        if self._titles is None:
            self._titles = titles


class Engine:
    def __init__(self, home: IndexHome, settings: Mapping[str, Any]) -> None:
        self.home = home
        self.settings = {**DEFAULTS, **settings}
        self._lock = threading.RLock()
        self._checked = 0.0
        self._mark: tuple[int, ...] | None = None  # the index's fingerprint at the last full look (refresh)
        # Searches answered from the answer cache and those computed, since this engine opened (web/metrics.py).
        self.cache_hits = self.cache_misses = 0
        self._open()

    @classmethod
    def open(cls, index_dir: Path | str, settings: Mapping[str, Any] | None = None) -> Engine:
        return cls(IndexHome(index_dir), settings or {})

    # -- lifecycle -------------------------------------------------------------------------------

    def _open(self) -> None:
        gen = self.home.current()
        self.home.meta(gen)  # refuses another schema or format version
        self._use(Snapshot.open(gen))

    def _use(self, snapshot: Snapshot) -> None:
        """Serve ``snapshot`` from now on (the caller holds the lock, or is the constructor)."""
        self._derived = derived = _Derived(snapshot, float(self.settings["TERM_CACHE_MB"]))
        self._checked = time.monotonic()
        if int(self.settings["WARM_TERMS"]) > 0:
            threading.Thread(target=self._warm, args=(derived,), daemon=True, name="warm").start()

    def refresh(self) -> None:
        """Pick up a new generation or committed changes; at most once per RELOAD_INTERVAL, and by two stats
        alone while the index's fingerprint stays what it was at the last full look."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked < float(self.settings["RELOAD_INTERVAL"]):
                return
            self._checked = now
            old = self._derived.snapshot
            # Taken before the full look, so a change during it shows as another fingerprint next time.
            mark = self.home.fingerprint(old.generation)
            if mark is not None and mark == self._mark:
                return
            if self.home.current().path != old.generation.path:
                self._open()
            else:
                newer = old.reopened()
                if newer is None:
                    self._mark = mark
                    return
                self._use(newer)
            self._mark = mark
            old.close()

    @property
    def snapshot(self) -> Snapshot:
        return self._derived.snapshot

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {"generation": self.snapshot.generation.number, "doc_count": self.snapshot.doc_count}

    def state_tag(self) -> str:
        """Changes whenever what a query could return changes (for ETags): what this worker serves,
        not what is on disk."""
        with self._lock:
            return self.snapshot.commit

    def _warm(self, derived: _Derived) -> None:
        """Read the index's most common words before queries need them (a new snapshot starts cold).

        Postings are read decode-free from the page cache: warming brings their pages in, once for every
        worker, and puts the words in the worker's term cache, scored (``postings.py``). One word at a time
        under the engine's lock, so searches interleave; stops when the snapshot changes. Best effort: any
        failure just ends it (the index may have moved on).
        """
        try:
            self._warm_suggestions(derived)
        except Exception:  # noqa: BLE001  (as below: best effort)
            return
        vocab = derived.snapshot.vocabulary
        n = int(self.settings["WARM_TERMS"])
        by_df = heapq.nlargest(n, chain(((df, "text_fold", t) for t, df in vocab.fold_df.items()),
                                        ((df, "text", t) for t, df in vocab.exact_df.items())))
        try:
            for _, field, term in by_df:
                with self._lock:
                    if self._derived is not derived:
                        return
                    # Into the term cache, scored: the first searches then find them as later ones do.
                    got = Evaluator(derived.snapshot, math.inf, derived.terms).scored(field, term)
                    if len(got.ids) >= WARM_POSITIONS:
                        derived.snapshot.positions(field, term)
        except Exception:  # noqa: BLE001  (a warm-up is an optimisation; the searches report real errors)
            return

    def _warm_suggestions(self, derived: _Derived) -> None:
        """Build what suggestions need before the first reader types: every headline's stored record is read
        (3 s for 38,000 articles), WARM_BATCH at a time under the engine's lock so searches interleave, and
        the tables are built outside it. A request that comes first builds its own, as without a warm-up."""
        live = np.flatnonzero(derived.snapshot.live)
        rows = []
        for at in range(0, len(live), WARM_BATCH):
            with self._lock:
                if self._derived is not derived or derived.has_titles:
                    return
                rows += headline_rows(derived.snapshot, live[at:at + WARM_BATCH])
        titles = Titles(derived.snapshot, rows)  # the snapshot's vocabulary and these rows only: no lock
        with self._lock:
            derived.offer_titles(titles)
            derived.facets  # noqa: B018  (built now: a tag's postings and one stored record per tag)

    # -- search ----------------------------------------------------------------------------------

    def search(self, req: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        parsed = parse(req.q)  # lenient and linear: even an over-long text parses quickly
        validate(req, self.settings, parsed.terms)
        with self._lock:
            results = self._derived.results
            cached = results.get(req)
            if cached is not None:
                # The cache lives with the snapshot, so any index change empties it.
                self.cache_hits += 1
                results.move_to_end(req)
                return replace(cached, took_ms=round((time.perf_counter() - started) * 1000, 2))
            self.cache_misses += 1
            result = self._search(parsed, req, started)
            # News search traffic repeats itself (the day's stories): answers are kept per worker.
            if int(self.settings["RESULT_CACHE"]) > 0:
                results[req] = result
                if len(results) > int(self.settings["RESULT_CACHE"]):
                    results.popitem(last=False)
            return result

    def _search(self, parsed: Any, req: SearchRequest, started: float) -> SearchResult:
        vocab = self.snapshot.vocabulary
        p = plan(parsed, vocab, req.q, req.verbatim)
        filt = self._filter(p, req)
        first = p
        result, p = self._run(p, filt, req,
                              lambda votes: plan(parsed, vocab, req.q, req.verbatim, votes, first.restored))
        interpreted = p.interpreted
        if result.total == 0 and p.corrected and p.corrected != req.q:
            # Fuzzy fallback: nothing matched what was typed; show what the vocabulary suggests.
            again = plan(parse(p.corrected), vocab, p.corrected, req.verbatim)
            retry, _ = self._run(again, filt, req)
            if retry.total:
                result, interpreted = retry, again.interpreted or p.corrected
        # Offered when little matches, or when only some of the words do (``bong daa viet namm``).
        partial = result.all_words_total is not None and result.all_words_total < result.total
        did_you_mean = p.corrected if p.corrected and (result.total < 5 * req.per_page or partial) else None
        took = (time.perf_counter() - started) * 1000
        return replace(result, took_ms=round(took, 2), did_you_mean=did_you_mean, interpreted_as=interpreted)

    def _filter(self, p: Plan, req: SearchRequest) -> Node | None:
        parts = list(p.filters)
        parts += [Term("tag_key", fold_text(t)) for t in req.tags if fold_text(t)]
        if req.category:
            parts.append(Term("category_key", fold_text(req.category)))
        if req.author:
            parts.append(Term("author_key", fold_text(req.author)))
        if req.date_from or req.date_to:
            lo = _day_start(req.date_from) if req.date_from else None
            hi = _day_start(req.date_to) + 86400 - 1 if req.date_to else None
            parts.append(DateRange(lo, hi))
        return all_of(parts) if parts else None

    def _run(self, p: Plan, filt: Node | None, req: SearchRequest,
             replan: Callable[[Votes], Plan] | None = None) -> tuple[SearchResult, Plan]:
        """The result of plan ``p``, and the plan it ended with: ``replan`` makes it again with the
        best matches' votes when ``p`` restored a syllable unsure (``feedback.py``)."""
        window = req.page * req.per_page
        second = (replan is not None and p.strict is not None and req.sort == "relevance" and not req.verbatim
                  and feedback.unsure(p))
        k = max(window, feedback.RERANK_DOCS) if second else window
        every: int | None = None  # results holding every word; None when the tiers do not apply
        ev = Evaluator(self.snapshot, time.monotonic() + float(self.settings["QUERY_TIME_LIMIT"]), self._derived.terms)
        if p.strict is None:
            got = self._collect(ev, Every(), filt, p.excluded, "newest", False, window)
        else:
            got = self._collect(ev, p.strict, filt, p.excluded, req.sort, req.recency, k)
            if not p.question:  # a question is ranked over all its words: no tiers
                every = len(got.matched)
            # Decided once per query, never by the page asked for, so every page has the same total: when
            # few articles hold every word, articles holding some of the words follow them.
            if p.loose is not None and len(got.matched) < int(self.settings["ALL_WORDS_MIN"]):
                more = self._collect(ev, p.loose, filt, p.excluded, req.sort, req.recency,
                                     k - len(got.matched), exclude=got.matched)
                got = Collected(np.concatenate([got.matched, more.matched]), np.concatenate([got.docs, more.docs]),
                                np.concatenate([got.scores, more.scores]), got.scored + more.scored)
        if second and replan is not None:
            by_age = (lambda ts: lift(ts, self.settings)) if req.recency else None
            p, got = feedback.second_look(ev, p, got, every, replan, by_age, self._derived.headline)
        start = (req.page - 1) * req.per_page
        hits = [hit(self.snapshot, int(d), float(sc), p.marker if req.highlight else None)
                for d, sc in zip(got.docs[start:window], got.scores[start:window])]
        facets = self._derived.facets.count(got.matched) if req.facets else {}
        return SearchResult(len(got.matched), hits, facets, 0.0, None, every, ev.partial, req.page,
                            req.per_page), p

    def _collect(self, ev: Evaluator, node: Node, filt: Node | None, excluded: Node | None, sort: str,
                 recency: bool, k: int, exclude: np.ndarray | None = None) -> Collected:
        """Every matching document (less ``exclude``), and the first ``k`` in order with their scores."""
        if excluded is not None:
            node = AndNot(node, excluded)
        if filt is not None:
            node = And((node, Filter(filt)))
        now = time.time()  # one instant for the whole query, so the pruning bound and the scores agree
        by_age = (lambda ts: lift(ts, self.settings, now)) if recency else None
        return collect(ev, node, k, sort, by_age, exclude, bool(self.settings["PRUNE"]))

    # -- articles, tags, suggestions, related ------------------------------------------------------

    def _docnum(self, article_id: str) -> int:
        docnum = self.snapshot.docnum(article_id)
        if docnum is None:
            raise NotFound(f"no article with id {article_id!r}")
        return docnum

    def article(self, article_id: str) -> dict[str, Any]:
        with self._lock:
            stored = self.snapshot.stored(self._docnum(article_id))
        keys = ("id", "title", "lead", "body", "url", "published", "category", "tags", "author", "source")
        return {k: stored.get(k) if k != "tags" else list(stored.get("tags") or []) for k in keys}

    def tags(self, prefix: str = "", limit: int = 20) -> list[FacetValue]:
        with self._lock:
            return self._derived.facets.tags(prefix, limit)

    def tag_articles(self, tag: str, limit: int = 20) -> list[Hit]:
        req = SearchRequest(tags=(tag,), sort="newest", per_page=min(limit, int(self.settings["MAX_PER_PAGE"])),
                            facets=False)
        return self.search(req).hits

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        if not fold_text(prefix):
            return []
        with self._lock:
            derived = self._derived
            return derived.titles.suggest(prefix, derived.facets.tags(prefix, limit), limit)

    def related(self, article_id: str, limit: int = 10) -> list[RelatedHit]:
        with self._lock:
            docnum = self._docnum(article_id)
            return related_mod.related(self.snapshot, self.settings, self.snapshot.stored(docnum), limit, docnum,
                                       self._derived.terms)

    def related_to_text(self, title: str, body: str, limit: int = 10) -> list[RelatedHit]:
        if not (title or body).strip():
            raise InputError("give a title or a body to find related articles")
        with self._lock:
            return related_mod.related(self.snapshot, self.settings, {"title": title, "body": body}, limit, None,
                                       self._derived.terms)


_EPOCH_DAY = date(1970, 1, 1).toordinal()
_VIETNAM_OFFSET = int(VIETNAM_TZ.utcoffset(None).total_seconds())  # type: ignore[union-attr]


def _day_start(d: date) -> int:
    """Midnight in Vietnam at the start of ``d``, in epoch seconds. Integer arithmetic: datetime overflows
    at the ends of its range (``from=0001-01-01`` in UTC+7 is before year 1; the day after 9999-12-31 is none)."""
    return (d.toordinal() - _EPOCH_DAY) * 86400 - _VIETNAM_OFFSET
