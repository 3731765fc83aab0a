"""search.suggest: completions, then tags, then headlines starting with what was typed, then holding a word
that does (newest first), each article with its id and url."""

from __future__ import annotations

from pathlib import Path

from searchsvc.analysis import fold_text
from searchsvc.search.results import FacetValue, Suggestion
from searchsvc.search.suggest import COMPLETIONS, TAGS, Titles
from searchsvc.store.home import IndexHome
from searchsvc.store.snapshot import Snapshot


def _titles(index_dir: Path) -> Titles:
    return Titles(Snapshot.open(IndexHome(index_dir).current()))


def test_headlines_that_start_with_it_come_first_then_the_newest(index_dir: Path) -> None:
    titles = _titles(index_dir)
    got = titles.articles("tre", limit=2)
    assert [(s.text, s.kind) for s in got] == [("Trẻ em vùng cao đến trường", "article"),
                                                ("Bảo vệ trẻ em trong mùa hè", "article")]
    assert [s.id for s in got] == ["a7", "a1"] and got[1].url == "https://example.vn/a1"
    assert titles.suggest("  ", [], limit=3) == []
    assert [s.text for s in titles.articles("cong", limit=5)] == [
        "Công đoàn tổ chức hội nghị công nhân", "Cộng đồng doanh nghiệp ủng hộ quỹ vì trẻ em",  # start, newest first
        "<script>alert(1)</script> Tin nhanh về công nghệ",  # then a word inside
    ]


def test_completions_then_tags_then_articles(index_dir: Path) -> None:
    titles = _titles(index_dir)
    got = titles.suggest("tre", [FacetValue("Trẻ em", 3), FacetValue("Tre", 1), FacetValue("Trẻ hóa", 1)], limit=8)
    kinds = [s.kind for s in got]
    assert kinds == sorted(kinds, key=["completion", "tag", "article"].index)  # grouped, in that order
    assert 0 < kinds.count("completion") <= COMPLETIONS and kinds.count("tag") == TAGS
    assert got[0] == Suggestion("trẻ em", "completion")
    assert all(s.id and s.url for s in got if s.kind == "article")
    assert len(titles.suggest("tre", [], limit=2)) == 2


def test_every_live_headline_by_its_document_number(index_dir: Path) -> None:
    snapshot = Snapshot.open(IndexHome(index_dir).current())
    titles = Titles(snapshot)
    headlines = {d: f["title"] for d, f in snapshot.documents()}
    assert len(headlines) > 3 and all(titles.headline(d) == (h, fold_text(h)) for d, h in headlines.items())
    assert titles.headline(snapshot.n) == ("", "")  # no such document
