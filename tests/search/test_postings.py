"""Term postings kept between searches (as lists and, for common words, dense vectors): the same scores as read
afresh, within the budget, never past the snapshot."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from searchsvc.articles import Article
from searchsvc.query.parse import parse
from searchsvc.query.plan import plan
from searchsvc.search.engine import Engine
from searchsvc.search.evaluate import Evaluator
from searchsvc.search.postings import TermCache, TermPostings
from searchsvc.search.results import SearchRequest
from searchsvc.store import writer
from searchsvc.store.home import IndexHome
from searchsvc.store.snapshot import Snapshot

QUERIES = ["giá vàng", "gia vang tang", "trẻ em", "bóng đá việt nam", "ha noi", "thời tiết", "công an", "kinh tế"]


@pytest.fixture(scope="module")
def sample(sample_articles: tuple[Article, ...], tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    home = tmp_path_factory.mktemp("postings") / "index"
    writer.build_index(sample_articles, home, procs=1, quiet=True)
    return Snapshot.open(IndexHome(home).current())


def _scores(snap: Snapshot, q: str, cache: TermCache | None) -> tuple[np.ndarray, np.ndarray]:
    p = plan(parse(q), snap.vocabulary, q, False)
    assert p.strict is not None
    v = Evaluator(snap, time.monotonic() + 60, cache).run(p.loose or p.strict)
    return v.score, v.match


def test_kept_postings_score_exactly_as_postings_read_afresh(sample: Snapshot, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = TermCache(2**26, min_postings=1)
    for q in QUERIES:
        fresh = _scores(sample, q, None)
        first = _scores(sample, q, cache)
        assert np.array_equal(first[0], fresh[0]) and np.array_equal(first[1], fresh[1]), q
    assert len(cache) > 20 and 0 < cache.used <= cache.budget
    kept = [cache.get(key) for key in list(cache._kept)]  # noqa: SLF001
    assert any(p is not None and p.is_dense for p in kept) and any(p is not None and not p.is_dense for p in kept)

    def no_reads(*_: Any) -> None:
        raise AssertionError("read again")

    monkeypatch.setattr(Snapshot, "postings_many", no_reads)
    monkeypatch.setattr(Snapshot, "postings", no_reads)
    for q in QUERIES:  # every term is kept now: nothing is read, and the scores are the same
        assert _scores(sample, q, cache)[1].any(), q


def test_short_or_unscored_lists_are_not_kept_and_the_budget_drops_the_least_recently_used(sample: Snapshot) -> None:
    def postings(n: int, scored: bool = True) -> TermPostings:
        got = TermPostings(np.arange(n, dtype=np.int32) % sample.n, np.ones(n, np.float32), n, 10**6)
        if scored:
            got.tf(sample, "text")
        return got

    cache = TermCache(budget=3 * postings(100).nbytes, min_postings=50)
    cache.offer(("text", "short"), postings(49))
    cache.offer(("tag_key", "a filter"), postings(100, scored=False))
    assert cache.get(("text", "short")) is None and cache.get(("tag_key", "a filter")) is None and cache.used == 0
    for name in ("a", "b", "c"):
        cache.offer(("text", name), postings(100))
    assert cache.get(("text", "a")) is not None  # "a" is now the most recently used
    cache.offer(("text", "d"), postings(100))
    assert cache.get(("text", "b")) is None  # the least recently used gave way
    assert [cache.get(("text", k)) is not None for k in "acd"] == [True, True, True]
    assert cache.used == cache.budget
    cache.offer(("text", "huge"), postings(400))  # larger than the whole budget: not kept, nothing dropped
    assert cache.get(("text", "huge")) is None and len(cache) == 3


def test_a_deletion_is_never_answered_from_the_previous_snapshot_s_postings(index_dir: Path) -> None:
    engine = Engine.open(index_dir, {"RESULT_CACHE": 0, "WARM_TERMS": 0, "RELOAD_INTERVAL": 0})
    engine._derived.terms.min_postings = 1  # noqa: SLF001  (the test index's lists are short)
    req = SearchRequest(q="tre em")
    before = engine.search(req)
    assert before.total >= 2 and len(engine._derived.terms)  # noqa: SLF001
    gone = before.hits[0].id
    writer.delete(IndexHome(index_dir), [gone])
    engine.refresh()
    after = engine.search(req)
    fresh = Engine.open(index_dir, {"RESULT_CACHE": 0, "WARM_TERMS": 0}).search(req)
    assert gone not in [h.id for h in after.hits]
    assert after.total == before.total - 1 == fresh.total
    assert [(h.id, h.score) for h in after.hits] == [(h.id, h.score) for h in fresh.hits]


def test_document_frequency_counts_live_documents_with_and_without_deletions(index_dir: Path) -> None:
    home = IndexHome(index_dir)
    whole = Snapshot.open(home.current())
    ids, weights = whole.postings("text", "trẻ_em")
    assert len(ids) >= 2 and whole.doc_count == whole.n  # nothing deleted: every posting counts
    assert TermPostings.read(whole, (ids, weights)).df == len(ids) == whole.doc_frequency("text", "trẻ_em")
    gone = whole.stored(int(ids[0]))["id"]
    writer.delete(home, [gone])
    after = Snapshot.open(home.current())
    ids, weights = after.postings("text", "trẻ_em")
    live = int(np.count_nonzero(after.live[ids]))
    assert after.doc_count < after.n and live < len(ids)  # the deleted copy is still in the list: a scan
    assert TermPostings.read(after, (ids, weights)).df == live == after.doc_frequency("text", "trẻ_em")
    assert live == whole.doc_frequency("text", "trẻ_em") - 1
