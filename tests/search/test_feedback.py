"""The second look (``search/feedback.py``) on a tiny real index where the bigram model restores a headline
run wrongly: ``ban moi`` reads ``bàn mới`` (furniture shops say it more often than anyone says ``bạn mới``),
yet the reader typed the headline "… người bạn mới của tôi …"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from searchsvc.articles import Article
from searchsvc.search import feedback
from searchsvc.search.engine import Engine
from searchsvc.search.results import SearchRequest
from searchsvc.store.snapshot import Snapshot
from searchsvc.store.writer import build_index


def _article(i: str, title: str, body: str) -> Article:
    return Article(id=i, title=title, lead="", body=body, category="", tags=(), author="", published=None,
                   url="", source="test")


ARTICLES = (
    _article("known", "Kể chuyện về người bạn mới của tôi ở ngôi trường làng ven sông", "Câu chuyện cùng lớp."),
    *(_article(f"shop{i}", "Nội thất giá rẻ", "Bàn mới bằng gỗ. Ghế và bàn mới cho phòng khách.") for i in range(3)),
    *(_article(f"friend{i}", "Kết bạn", "Làm quen với bạn mới ở lớp.") for i in range(2)),
    # Every word of the query, and the wrong "bàn" in a short headline, but never beside "mới".
    *(_article(f"mine{i}", "Mới mua bàn, tôi khoe đồ của hãng", "Chiếc bàn gỗ.") for i in range(3)),
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    home: Path = tmp_path_factory.mktemp("feedback") / "index"
    build_index(ARTICLES, home, procs=1, quiet=True)
    return Engine.open(home, {"WARM_TERMS": 0, "RESULT_CACHE": 0, "RECENCY_WEIGHT": 0.0})


def _search(engine: Engine, q: str, **kw: Any) -> Any:
    return engine.search(SearchRequest(q=q, highlight=False, facets=False, **kw))


def test_the_headline_typed_without_accents_comes_first_despite_a_wrong_likeliest_reading(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    r = _search(engine, "ban moi cua toi")
    assert [h.id for h in r.hits][0] == "known"
    assert r.interpreted_as == "bạn mới của tôi"  # the reading searched is the revised one
    # Without the second look the model's reading wins: the headlines holding "bàn" come first.
    monkeypatch.setattr(feedback, "unsure", lambda p: False)
    before = _search(engine, "ban moi cua toi")
    assert before.interpreted_as == "bàn mới của tôi"
    assert [h.id for h in before.hits][:3] == ["mine0", "mine1", "mine2"]
    # Only the order changes: the same documents match.
    assert before.total == r.total and before.all_words_total == r.all_words_total
    assert {h.id for h in before.hits} == {h.id for h in r.hits}


def test_a_query_typed_with_accents_takes_no_second_look(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[Any] = []
    original = feedback.votes
    monkeypatch.setattr(feedback, "votes", lambda *a: looked.append(a) or original(*a))
    assert [h.id for h in _search(engine, "bạn mới của tôi").hits][0] == "known"
    assert _search(engine, "bàn mới").interpreted_as is None
    assert looked == []
    _search(engine, "ban moi cua toi")
    assert len(looked) == 1


def test_pages_are_cut_from_one_ranking(engine: Engine) -> None:
    whole = [h.id for h in _search(engine, "ban moi cua toi", per_page=10).hits]
    pages = [h.id for p in (1, 2, 3, 4) for h in _search(engine, "ban moi cua toi", per_page=2, page=p).hits]
    assert pages == whole[:8]


def test_every_word_results_stay_ahead_of_the_rest(engine: Engine) -> None:
    r = _search(engine, "ban moi cua toi", per_page=10)
    every = r.all_words_total
    assert every is not None and 0 < every < r.total
    ids = [h.id for h in r.hits]
    assert set(ids[:every]) == {"known", "mine0", "mine1", "mine2"}  # the documents holding every word
    # The second look re-read "ban" as "bạn": the friends' articles now lead the any-word tier.
    assert ids[every:every + 2] == ["friend0", "friend1"]


def test_sorted_by_date_takes_no_second_look(engine: Engine) -> None:
    r = _search(engine, "ban moi cua toi", sort="newest")
    assert r.interpreted_as == "bàn mới của tôi"


def test_a_headline_holding_the_whole_run_is_looked_at_wherever_it_ranked(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the first two matches are read and ranked again: the known item (fourth on the model's reading)
    # is neither, but its headline holds "ban moi cua toi" folded.
    monkeypatch.setattr(feedback, "EVIDENCE_DOCS", 2)
    monkeypatch.setattr(feedback, "RERANK_DOCS", 2)
    r = _search(engine, "ban moi cua toi")
    assert [h.id for h in r.hits][0] == "known" and r.interpreted_as == "bạn mới của tôi"
    monkeypatch.setattr(feedback, "TITLE_DOCS", 0)
    assert [h.id for h in _search(engine, "ban moi cua toi").hits][0] != "known"


def test_searched_as_typed_takes_no_second_look(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[Any] = []
    monkeypatch.setattr(feedback, "votes", lambda *a: looked.append(a) or {})
    r = _search(engine, "ban moi cua toi", verbatim=True)
    assert looked == [] and r.interpreted_as is None


@pytest.mark.parametrize("q", ["ban", "ban moi", "ban, moi", "ban OR moi", '"ban moi" cua'])
def test_short_and_odd_queries_take_the_second_look_safely(engine: Engine, q: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    r = _search(engine, q)
    monkeypatch.setattr(feedback, "unsure", lambda p: False)
    before = _search(engine, q)
    assert r.total > 0 and (r.total, r.all_words_total) == (before.total, before.all_words_total)
    assert sorted(h.id for h in r.hits) == sorted(h.id for h in before.hits)


def test_the_headlines_come_from_the_suggestion_tables_once_built_with_the_same_answer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "index"
    build_index(ARTICLES, home, procs=1, quiet=True)
    engine = Engine.open(home, {"WARM_TERMS": 0, "RESULT_CACHE": 0, "RECENCY_WEIGHT": 0.0})
    read: list[int] = []
    stored = Snapshot.stored
    monkeypatch.setattr(Snapshot, "stored", lambda self, d: read.append(d) or stored(self, d))
    first = _search(engine, "ban moi cua toi")
    assert len(read) > len(first.hits)  # no tables yet: the voters' stored records are read, not only the hits'
    engine.suggest("ban", 8)  # builds the tables (the background warm-up does it when WARM_TERMS > 0)
    read.clear()
    again = _search(engine, "ban moi cua toi")
    assert len(read) == len(again.hits)  # the hits' records only
    assert again.hits == first.hits and again.interpreted_as == first.interpreted_as == "bạn mới của tôi"
