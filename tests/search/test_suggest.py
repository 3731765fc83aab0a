"""search.suggest: tags first, then headlines starting with what was typed, then containing a word that does."""

from __future__ import annotations

from pathlib import Path

from searchsvc.search.results import FacetValue, Suggestion
from searchsvc.search.suggest import Titles
from searchsvc.store.home import IndexHome
from searchsvc.store.snapshot import Snapshot


def test_headlines_that_start_with_it_come_first_then_the_newest(index_dir: Path) -> None:
    titles = Titles(Snapshot.open(IndexHome(index_dir).current()))
    got = titles.suggest("tre", [FacetValue("Trẻ em", 3)], limit=3)
    assert got == [Suggestion("Trẻ em", "tag"), Suggestion("Trẻ em vùng cao đến trường", "title"),
                   Suggestion("Bảo vệ trẻ em trong mùa hè", "title")]
    assert titles.suggest("  ", [], limit=3) == []
    assert [s.text for s in titles.suggest("cong", [], limit=5)] == [
        "Công đoàn tổ chức hội nghị công nhân", "Cộng đồng doanh nghiệp ủng hộ quỹ vì trẻ em",  # start, newest first
        "<script>alert(1)</script> Tin nhanh về công nghệ",  # then a word inside
    ]
