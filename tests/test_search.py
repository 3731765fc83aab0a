"""The Engine on a small real index: diacritic-aware ranking, every-word-then-most-words, filters,
facets, sorting, recency, suggestions, tags, related, refresh after changes."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pytest

from searchsvc.articles import Article
from searchsvc.errors import InputError, NotFound
from searchsvc.generations import IndexHome
from searchsvc.indexing import add, build_index, delete
from searchsvc.search import Engine, SearchRequest


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
    assert ("tag", "Trẻ em") in kinds and ("title", "Trẻ em vùng cao đến trường") in kinds
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


def test_cached_answers_are_dropped_when_the_index_changes(engine: Engine, index_dir: Path) -> None:
    before = engine.search(SearchRequest(q="giá vàng"))
    assert engine.search(SearchRequest(q="giá vàng")).hits == before.hits  # served from the cache
    add(IndexHome(index_dir), [Article(id="g2", title="Giá vàng giảm", body="Giá vàng hôm nay giảm.")])
    engine.refresh()
    after = engine.search(SearchRequest(q="giá vàng"))
    assert after.total == before.total + 1 and "g2" in [h.id for h in after.hits]


def test_a_new_reader_decodes_the_most_common_words_in_the_background(index_dir: Path) -> None:
    import threading

    engine = Engine.open(index_dir, {"WARM_TERMS": 5})
    engine.search(SearchRequest(q="giá vàng"))  # opens the reader's caches, which starts the warm-up
    for t in threading.enumerate():
        if t.name == "warm":
            t.join(timeout=30)
    cached = {(f, term) for _, f, term in engine._derived_stats().cache}
    vocab = engine.vocabulary
    commonest = max(vocab.fold_df, key=lambda t: (vocab.fold_df[t], t))
    assert ("text_fold", commonest) in cached
    # An add makes a new reader: its caches start empty and are warmed again.
    first = engine._derived_stats()
    add(IndexHome(index_dir), [Article(id="w1", title="Mưa lớn", lead="", body="Mưa lớn ở miền Trung.")])
    engine.refresh()
    engine.search(SearchRequest(q="mưa"))
    assert engine._derived_stats() is not first
    for t in threading.enumerate():
        if t.name == "warm":
            t.join(timeout=30)
    assert ("text_fold", commonest) in {(f, term) for _, f, term in engine._derived_stats().cache}
    off = Engine.open(index_dir, {"WARM_TERMS": 0})
    off.search(SearchRequest(q="giá vàng"))
    folded = {term for _, f, term in off._derived_stats().cache if f == "text_fold"}
    assert folded == {"gia", "vang"}  # only what the query itself read
