"""The search-box parser: lenient, structured."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from searchsvc.query.parse import Clause, parse


def test_words_phrases_exclusions_and_filters() -> None:
    q = parse('trẻ em "bảo vệ" -công tag:"Trẻ em" category:Xã_hội author:An title:vàng')
    assert q.groups == [
        [Clause("trẻ")], [Clause("em")], [Clause("bảo vệ", phrase=True)], [Clause("vàng", title_only=True)]
    ]
    assert q.excluded == [Clause("công")]
    assert q.filters == {"tag": ["Trẻ em"], "category": ["Xã_hội"], "author": ["An"]}


def test_or_joins_neighbours_and_stray_operators_are_dropped() -> None:
    assert parse("vàng OR bạc").groups == [[Clause("vàng"), Clause("bạc")]]
    assert parse("OR vàng OR").groups == [[Clause("vàng")]]
    assert parse("- -- OR").is_empty()


def test_unbalanced_quote_runs_to_the_end_and_unknown_prefix_is_text() -> None:
    assert parse('"bảo vệ trẻ em').groups == [[Clause("bảo vệ trẻ em", phrase=True)]]
    assert parse("http://x").groups == [[Clause("http //x")]]


@given(st.text(max_size=200))
def test_anything_parses(text: str) -> None:
    q = parse(text)
    assert q.terms >= 0
