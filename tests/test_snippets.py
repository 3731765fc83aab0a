"""Highlighting slices the original text: its diacritics, case and form survive; HTML is escaped."""

from __future__ import annotations

import unicodedata

from searchsvc.snippets import Marker, best_fragment, highlight_all


def marker(exact: set[str] = frozenset(), folded: set[str] = frozenset()) -> Marker:  # type: ignore[assignment]
    return Marker(frozenset(exact), frozenset(folded))


def test_exact_form_marks_only_itself() -> None:
    html = highlight_all("Công đoàn và cộng đồng", marker(exact={"cộng"}))
    assert html == "Công đoàn và <mark>cộng</mark> đồng"


def test_folded_form_marks_every_accented_form_with_its_own_case() -> None:
    html = highlight_all("Công và cộng, CONG", marker(folded={"cong"}))
    assert html == "<mark>Công</mark> và <mark>cộng</mark>, <mark>CONG</mark>"


def test_nfd_text_is_sliced_as_written() -> None:
    text = unicodedata.normalize("NFD", "Trẻ em Hà Nội")
    html = highlight_all(text, marker(exact={"trẻ"}))
    assert html.startswith("<mark>" + unicodedata.normalize("NFD", "Trẻ") + "</mark>")


def test_html_is_escaped_around_and_inside_marks() -> None:
    html = highlight_all("<script>alert(1)</script> trẻ em", marker(exact={"trẻ"}))
    assert "<script>" not in html and "&lt;script&gt;" in html and "<mark>trẻ</mark>" in html


def test_best_fragment_prefers_the_window_with_most_matches() -> None:
    body = " ".join(["chữ"] * 200) + " trẻ em được bảo vệ " + " ".join(["chữ"] * 200)
    frag = best_fragment(["", body], marker(exact={"trẻ", "em", "bảo", "vệ"}))
    assert "<mark>trẻ</mark> <mark>em</mark>" in frag and frag.startswith("… ") and frag.endswith(" …")
    assert len(frag) < 400
