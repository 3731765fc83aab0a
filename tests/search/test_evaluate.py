"""The numpy evaluator agrees with Whoosh on which documents match, and scores like BM25 should."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from whoosh import query as wq

from searchsvc.search.engine import Engine


@pytest.fixture
def engine(index_dir: Path) -> Engine:
    return Engine.open(index_dir)


QUERIES = [
    wq.Term("text_fold", "tre"),
    wq.And([wq.Term("text_fold", "tre"), wq.Term("text_fold", "em")]),
    wq.Or([wq.Term("text", "vàng"), wq.Term("text", "mưa")]),
    wq.AndNot(wq.Term("text_fold", "tre"), wq.Term("text_fold", "doanh")),
    wq.Phrase("text_fold", ["vung", "cao"]),
    wq.Phrase("text", ["trẻ", "em"]),
]


@pytest.mark.parametrize("q", QUERIES, ids=repr)
def test_matches_what_whoosh_matches(engine: Engine, q: wq.Query) -> None:
    ours = set(np.flatnonzero(engine._evaluator().run(q).match).tolist())
    assert ours == set(engine.searcher.docs_for_query(q))


def test_rarer_terms_and_title_occurrences_score_higher(engine: Engine) -> None:
    ev = engine._evaluator()
    v = ev.run(wq.Term("text", "trẻ"))
    docs = {engine.searcher.stored_fields(d)["id"]: float(v.score[d]) for d in np.flatnonzero(v.match)}
    # a7 has "Trẻ em" in its title; a5 only in lead/title later and a longer text
    assert docs["a7"] > 0 and docs["a1"] > 0
    common = ev.run(wq.Term("text_fold", "em")).score.max()
    rare = ev.run(wq.Term("text", "vàng")).score.max()
    assert rare > common


@pytest.mark.parametrize("cached_from", [0, 10**9], ids=["whole-cached", "candidates-only"])
def test_phrases_over_long_postings_and_several_segments_match_what_whoosh_matches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached_from: int) -> None:
    # Postings of hundreds of documents span several blocks (128 postings each) in two segments (the
    # second from `add`), so the block skipping and per-block position decoding are all exercised,
    # both ways a word's positions are read.
    from searchsvc.search import evaluate as scoring

    monkeypatch.setattr(scoring, "CACHED_POSITIONS", cached_from)
    import random

    from searchsvc.articles import Article
    from searchsvc.store.home import IndexHome
    from searchsvc.store.writer import add, build_index

    rng = random.Random(7)
    words = "trẻ em vùng cao đến trường học sinh mưa lũ miền trung cứu trợ giá vàng tăng".split()

    def article(i: int) -> Article:
        body = " ".join(rng.choice(words) for _ in range(rng.randint(5, 60)))
        return Article(id=f"d{i}", title=rng.choice(words), lead="", body=body)

    home = tmp_path / "index"
    build_index([article(i) for i in range(700)], home, procs=1, quiet=True)
    add(IndexHome(home), [article(i) for i in range(700, 900)])
    engine = Engine.open(home)
    assert len(list(engine.searcher.reader().leaf_readers())) >= 2
    for phrase in (["trẻ", "em"], ["vùng", "cao", "đến"], ["giá", "vàng", "tăng"], ["em", "em"]):
        q = wq.Phrase("text", phrase)
        ours = set(np.flatnonzero(engine._evaluator().run(q).match).tolist())
        expected = set(engine.searcher.docs_for_query(q))
        assert ours == expected and expected, phrase


def test_the_postings_cache_stays_within_its_setting(index_dir: Path) -> None:
    from searchsvc.search.engine import SearchRequest

    roomy = Engine.open(index_dir, {"RESULT_CACHE": 0})
    tight = Engine.open(index_dir, {"RESULT_CACHE": 0, "POSTINGS_CACHE_MB": 0})
    for engine in (roomy, tight):
        for q in ("trẻ em vùng cao", "giá vàng", '"vùng cao"', "mua lu mien trung"):
            engine.search(SearchRequest(q=q))
    assert len(roomy._derived_stats().cache) > 10
    assert len(tight._derived_stats().cache) == 1  # only the entry just read survives
    # Same answers either way: the cache only saves decoding.
    for q in ("trẻ em vùng cao", '"vùng cao"'):
        a, b = roomy.search(SearchRequest(q=q)), tight.search(SearchRequest(q=q))
        assert [h.id for h in a.hits] == [h.id for h in b.hits] and a.total == b.total
