"""The Engine on a small real index: diacritic-aware ranking, every-word-then-most-words, filters,
facets, sorting, recency, suggestions, tags, related, refresh after changes."""

from __future__ import annotations

import os
import time
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from searchsvc.articles import VIETNAM_TZ, Article
from searchsvc.errors import InputError, NotFound
from searchsvc.search.engine import Engine, SearchRequest
from searchsvc.store.home import IndexHome
from searchsvc.store.writer import add, build_index, delete


@pytest.fixture
def engine(index_dir: Path) -> Engine:
    return Engine.open(index_dir, {"RELOAD_INTERVAL": 0.0})


def ids(engine: Engine, q: str = "", **kw: object) -> list[str]:
    return [h.id for h in engine.search(SearchRequest(q=q, recency=False, **kw)).hits]  # type: ignore[arg-type]


def test_accented_query_ranks_exact_above_lookalikes(engine: Engine) -> None:
    # a4 is about "công đoàn"/"công nhân"; a5 about "cộng đồng": both fold to "cong".
    assert ids(engine, "công")[0] == "a4"
    assert ids(engine, "cộng")[0] == "a5"
    assert set(ids(engine, "công")) >= {"a4", "a5"}  # the lookalike still matches, lower


def test_unaccented_query_matches_every_form(engine: Engine) -> None:
    assert set(ids(engine, "cong")) >= {"a4", "a5"}
    assert set(ids(engine, "tre em")) == set(ids(engine, "trẻ em")) == {"a1", "a5", "a7"}


def test_tone_placement_nfd_and_telex_behave_as_nfc(engine: Engine) -> None:
    nfc = ids(engine, "Hà Nội")
    assert nfc and nfc == ids(engine, unicodedata.normalize("NFD", "Hà Nội"))
    assert ids(engine, "tre3 em") == ids(engine, "trẻ em") == ids(engine, "trer em")


def test_highlights_mark_what_matched_in_the_original(engine: Engine) -> None:
    hit = engine.search(SearchRequest(q="tre em")).hits[0]
    assert "<mark>trẻ</mark> <mark>em</mark>" in (hit.title_html + hit.snippet_html).replace("Trẻ", "trẻ")
    cong = engine.search(SearchRequest(q="cộng")).hits
    assert all("<mark>Công</mark>" not in h.title_html and "<mark>công</mark>" not in h.snippet_html for h in cong)


def test_every_word_first_then_most_words(engine: Engine) -> None:
    r = engine.search(SearchRequest(q="trẻ em vùng cao", recency=False))
    assert r.hits[0].id == "a7" and not r.all_words_matched and r.total > 1
    r = engine.search(SearchRequest(q="giá vàng"))
    assert r.all_words_matched and [h.id for h in r.hits] == ["a6"]


def test_phrase_exclusion_or_and_prefixes(engine: Engine) -> None:
    assert ids(engine, '"vùng cao"') == ["a7"]
    assert "a5" not in ids(engine, "trẻ em -doanh")
    # "mưa" typed with its accent: a1's "mùa" (same folded form) may follow, never lead.
    assert set(ids(engine, "vàng OR mưa")[:2]) == {"a6", "a3"}
    assert ids(engine, "title:vàng") == ["a6"]
    assert set(ids(engine, "tag:tre em")) <= {"a1", "a5", "a7"}


def test_filters_and_facets(engine: Engine) -> None:
    r = engine.search(SearchRequest(q="trẻ em", tags=("tre em",), category="xa hoi"))
    assert [h.id for h in r.hits] == ["a1"]
    r = engine.search(SearchRequest(q="trẻ em"))
    facets = {f.value: f.count for f in r.facets["tags"]}
    assert facets["Trẻ em"] == 3 and facets["Giáo dục"] == 2
    r = engine.search(SearchRequest(date_from=date(2024, 5, 1), date_to=date(2024, 6, 30), sort="newest"))
    assert [h.id for h in r.hits] == ["a1", "a2"]


def test_newest_puts_undated_last(engine: Engine) -> None:
    assert ids(engine, "trẻ em", sort="newest") == ["a1", "a5", "a7"]


def test_limits_raise_input_errors(engine: Engine) -> None:
    with pytest.raises(InputError):
        engine.search(SearchRequest(q="x" * 1000))
    with pytest.raises(InputError):
        engine.search(SearchRequest(q="a", per_page=101))
    with pytest.raises(InputError):
        engine.search(SearchRequest(q="a", page=200, per_page=10))
    with pytest.raises(InputError):
        engine.search(SearchRequest(q=" ".join(f"w{i}" for i in range(70))))


def test_did_you_mean_and_fuzzy_fallback(engine: Engine) -> None:
    r = engine.search(SearchRequest(q="doanh nghiepp"))
    assert r.did_you_mean is not None and "doanh" in r.did_you_mean


def test_suggest_tags_and_tag_articles(engine: Engine) -> None:
    kinds = {(s.kind, s.text) for s in engine.suggest("tre")}
    assert ("tag", "Trẻ em") in kinds and ("article", "Trẻ em vùng cao đến trường") in kinds
    assert [t.value for t in engine.tags("gia")][:2] == ["Giáo dục", "Giá vàng"] or {"Giáo dục", "Giá vàng"} <= {
        t.value for t in engine.tags("gia")}
    assert [h.id for h in engine.tag_articles("TRE EM")] == ["a1", "a5", "a7"]


def test_related_never_returns_the_article_and_explains(engine: Engine) -> None:
    related = engine.related("a1", limit=5)
    assert related and all(r.hit.id != "a1" for r in related)
    top = related[0]
    assert top.hit.id in {"a7", "a5"} and "Trẻ em" in top.shared_tags
    with pytest.raises(NotFound):
        engine.related("nope")
    draft = engine.related_to_text("Giá vàng hôm nay", "Giá vàng miếng tăng")
    assert draft[0].hit.id == "a6"


def test_refresh_sees_adds_deletes_and_new_generations(engine: Engine, index_dir: Path) -> None:
    home = IndexHome(index_dir)
    add(home, [Article(id="n1", title="Bão số 5 đổ bộ", body="Bão lớn gây mưa to.")])
    engine.refresh()
    assert ids(engine, "bão")[0] == "n1"
    delete(home, ["n1"])
    engine.refresh()
    assert "n1" not in ids(engine, "bão")
    with pytest.raises(NotFound):
        engine.article("n1")
    build_index([Article(id="z1", title="Thế hệ mới", body="Chỉ một bài")], index_dir)
    engine.refresh()
    assert engine.health()["doc_count"] == 1 and ids(engine, "thế hệ") == ["z1"]


def test_a_refresh_with_nothing_new_reads_only_two_stats(engine: Engine, index_dir: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # A worker checks before every request (RELOAD_INTERVAL 0): reading CURRENT and listing the generation
    # each time cost 64.6 us, the two stats 9.0 us.
    home = IndexHome(index_dir)
    gen = home.current()
    then = time.time() - 60
    for p in (index_dir / "CURRENT", gen.path):
        os.utime(p, (then, then))
    engine.refresh()  # the full check, which remembers the fingerprint
    calls: list[str] = []
    monkeypatch.setattr(IndexHome, "current", lambda self: calls.append("current") or gen)
    for _ in range(3):
        engine.refresh()
    assert calls == []
    monkeypatch.undo()
    add(home, [Article(id="n2", title="Bão số 6 đổ bộ", body="Bão lớn.")])  # the folder's mtime is now
    engine.refresh()
    assert ids(engine, "bão")[0] == "n2"


def test_cached_answers_are_dropped_when_the_index_changes(engine: Engine, index_dir: Path) -> None:
    before = engine.search(SearchRequest(q="giá vàng"))
    assert engine.search(SearchRequest(q="giá vàng")).hits == before.hits  # served from the cache
    add(IndexHome(index_dir), [Article(id="g2", title="Giá vàng giảm", body="Giá vàng hôm nay giảm.")])
    engine.refresh()
    after = engine.search(SearchRequest(q="giá vàng"))
    assert after.total == before.total + 1 and "g2" in [h.id for h in after.hits]


def test_a_new_snapshot_reads_the_most_common_words_in_the_background(index_dir: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from searchsvc.store.snapshot import Snapshot

    read: list[tuple[str, Snapshot, str, str]] = []
    postings, postings_many = Snapshot.postings, Snapshot.postings_many

    def spy(self: Snapshot, field: str, text: str) -> Any:
        read.append((threading.current_thread().name, self, field, text))
        return postings(self, field, text)

    def spy_many(self: Snapshot, field: str, texts: list[str]) -> Any:  # a query's terms, a field at a time
        read.extend((threading.current_thread().name, self, field, text) for text in texts)
        return postings_many(self, field, texts)

    monkeypatch.setattr(Snapshot, "postings", spy)
    monkeypatch.setattr(Snapshot, "postings_many", spy_many)

    def warmed(snapshot: Snapshot) -> set[tuple[str, str]]:
        # Other tests' engines may still be warming in this process: only this snapshot's reads count.
        for t in threading.enumerate():
            if t.name == "warm":
                t.join(timeout=30)
        # Words only: the warm-up also builds the facets, which read every tag's and category's postings.
        return {(f, term) for name, snap, f, term in read
                if name == "warm" and snap is snapshot and f.startswith("text")}

    engine = Engine.open(index_dir, {"WARM_TERMS": 5})
    vocab = engine.snapshot.vocabulary
    commonest = max(vocab.fold_df, key=lambda t: (vocab.fold_df[t], t))
    first = engine.snapshot
    assert ("text_fold", commonest) in warmed(first) and len(warmed(first)) == 5
    # An add makes a new snapshot: it is warmed again.
    add(IndexHome(index_dir), [Article(id="w1", title="Mưa lớn", lead="", body="Mưa lớn ở miền Trung.")])
    engine.refresh()
    assert engine.snapshot is not first and ("text_fold", commonest) in warmed(engine.snapshot)
    off = Engine.open(index_dir, {"WARM_TERMS": 0})
    off.search(SearchRequest(q="giá vàng"))
    assert warmed(off.snapshot) == set()
    assert {(f, t) for _, snap, f, t in read if snap is off.snapshot} >= {("text_fold", "gia"), ("text_fold", "vang")}


# ------------------------------------------------------------------------------------ tiers, once per query


def test_total_and_pages_are_the_same_on_every_page(engine: Engine) -> None:
    # One article (a1) holds every word; the others hold some of them and follow it.
    pages = [engine.search(SearchRequest(q="trẻ em mùa hè", per_page=1, page=n, recency=False)) for n in (1, 2, 3)]
    assert {r.total for r in pages} == {pages[0].total} and pages[0].total >= 3
    assert [r.all_words_total for r in pages] == [1, 1, 1]
    assert all(not r.all_words_matched for r in pages)
    assert pages[0].hits[0].id == "a1"
    whole = engine.search(SearchRequest(q="trẻ em mùa hè", per_page=10, recency=False))
    assert whole.total == pages[0].total
    assert [h.id for h in whole.hits[:3]] == [r.hits[0].id for r in pages]


def test_many_articles_holding_every_word_are_not_followed_by_partial_ones(index_dir: Path) -> None:
    engine = Engine.open(index_dir, {"ALL_WORDS_MIN": 2})
    r = engine.search(SearchRequest(q="trẻ em", per_page=1, page=1))
    assert r.total == r.all_words_total == 3 and r.all_words_matched
    assert engine.search(SearchRequest(q="trẻ em", per_page=1, page=3)).total == 3


def test_a_question_is_not_tiered(engine: Engine) -> None:
    r = engine.search(SearchRequest(q="trẻ em học ở đâu?"))
    assert r.all_words_total is None and not r.all_words_matched and r.total > 0


LOOKALIKES = (
    Article(id="b1", title="Bóng đá Việt Nam thắng trận", body="Đội tuyển bóng đá thắng 2-0.",
            published=datetime(2024, 1, 5, tzinfo=VIETNAM_TZ)),
    Article(id="b2", title="Bỗng nhiên trời đã sáng", body="Làn da rám nắng sau mùa hè, bỗng thấy đã lâu.",
            published=datetime(2024, 6, 1, tzinfo=VIETNAM_TZ)),
    Article(id="b3", title="Bóng chuyền nữ", body="Trận chung kết diễn ra tối qua.",
            published=datetime(2024, 7, 1, tzinfo=VIETNAM_TZ)),
)


def test_diacritics_typed_are_required_in_the_every_word_tier(tmp_path: Path) -> None:
    build_index(LOOKALIKES, tmp_path / "index")
    engine = Engine.open(tmp_path / "index", {})
    newest = engine.search(SearchRequest(q="bóng đá", sort="newest"))
    assert newest.hits[0].id == "b1"  # not b2, newer, whose "bỗng … đã" only folds to "bong da"
    assert newest.all_words_total == 1
    assert {h.id for h in newest.hits[1:]} <= {"b2", "b3"}  # lookalikes follow, in the most-words tier
    unaccented = engine.search(SearchRequest(q="bong da", sort="newest"))
    assert unaccented.all_words_total == 2  # typed without diacritics, the lookalike holds every word
    phrase = engine.search(SearchRequest(q='"bóng đá"', sort="newest"))
    assert phrase.hits[0].id == "b1" and phrase.all_words_total == 1


def test_boundary_dates_answer(engine: Engine) -> None:
    for lo, hi in ((date(1, 1, 1), date(9999, 12, 31)), (date(1, 1, 1), None), (None, date(9999, 12, 31)),
                   (date(9999, 12, 31), None), (None, date(1, 1, 1))):
        r = engine.search(SearchRequest(q="trẻ em", date_from=lo, date_to=hi))
        assert r.total == (3 - 1 if (lo, hi) != (date(9999, 12, 31), None) and hi != date(1, 1, 1) else 0)


def test_related_needs_more_than_one_word_in_common(engine: Engine) -> None:
    assert engine.related_to_text("xin chào", "") == []
    assert engine.related_to_text("Giá vàng", "Giá vàng miếng tăng một triệu đồng")[0].hit.id == "a6"


def test_a_new_snapshot_builds_its_suggestion_tables_in_the_background(index_dir: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from searchsvc.search import suggest

    built: list[str] = []
    init = suggest.Titles.__init__

    def spy(self: suggest.Titles, *args: Any) -> None:
        built.append(threading.current_thread().name)
        init(self, *args)

    monkeypatch.setattr(suggest.Titles, "__init__", spy)

    def settled() -> None:
        for t in threading.enumerate():
            if t.name == "warm":
                t.join(timeout=30)

    engine = Engine.open(index_dir, {"WARM_TERMS": 5})
    settled()
    assert built == ["warm"]  # before any reader typed
    assert [s.text for s in engine.suggest("trẻ", 8)] and built == ["warm"]  # the first suggestion builds nothing
    # A commit makes a new snapshot: its tables are built in the background again, with the new headline.
    add(IndexHome(index_dir), [Article(id="w2", title="Trẻ nhỏ tập bơi", lead="", body="Trẻ nhỏ học bơi.")])
    engine.refresh()
    settled()
    assert built == ["warm", "warm"]
    assert "Trẻ nhỏ tập bơi" in [s.text for s in engine.suggest("tre nho", 8)] and len(built) == 2
    # Without a warm-up the first suggestion builds them, in the request.
    off = Engine.open(index_dir, {"WARM_TERMS": 0})
    assert off.suggest("trẻ", 8) and built[2:] == [threading.current_thread().name]
