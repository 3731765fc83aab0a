"""search.complete: continuations of what was typed, accent-restored, in the index's case, on the sample."""

from __future__ import annotations

from typing import Any

import pytest

from searchsvc.search.complete import _case_map


def _completions(engine: Any, q: str) -> list[str]:
    return [s.text for s in engine.suggest(q, limit=8) if s.kind == "completion"]


@pytest.mark.parametrize("typed, first", [
    ("tre", "trẻ em"), ("bong d", "bóng đá"), ("viet n", "Việt Nam"), ("ha n", "Hà Nội"), ("ha noi", "Hà Nội"),
    ("trẻ e", "trẻ em"), ("Ronal", "Ronaldo"), ("u23 v", "U23 Việt Nam"),
])
def test_the_likeliest_continuation_comes_first(sample_engine: Any, typed: str, first: str) -> None:
    assert _completions(sample_engine, typed)[0] == first


def test_accents_typed_must_match(sample_engine: Any) -> None:
    got = _completions(sample_engine, "bóng đ")
    assert got and all(c.startswith("bóng đ") for c in got)
    assert not any(c.startswith("bỏng") for c in _completions(sample_engine, "bóng"))


def test_function_words_and_what_was_typed_are_not_completions(sample_engine: Any) -> None:
    got = _completions(sample_engine, "tre")
    assert "trên" not in got and "trẻ" not in got


def test_a_word_of_the_last_syllable_does_not_straddle_the_word_before(sample_engine: Any) -> None:
    assert not any(c.startswith("Hà nội") or c.lower().startswith("hà nội dung")
                   for c in _completions(sample_engine, "ha n"))


def test_after_a_space_only_words_that_continue_everything_typed(sample_engine: Any) -> None:
    assert all(c.lower().startswith("bóng đá ") for c in _completions(sample_engine, "bong da "))


def test_case_comes_from_inside_headlines() -> None:
    case = _case_map(["Tin mới ở Hà Nội", "Đường phố Hà Nội", "Mưa ở hà nội", "Trẻ em vui chơi", "Chăm lo trẻ em",
                      "NGÀY HỘI Ở HÀ NỘI", "Ronaldo Ghi Bàn Cho Đội Nhà", "Ronaldo đá phạt"])
    assert case["hà"] == "Hà" and case["nội"] == "Nội"  # two against one
    assert "trẻ" not in case  # a first word says little: "Trẻ" at the start, "trẻ" inside
    assert case["ronaldo"] == "Ronaldo"  # only ever first, never lowercase
    assert "ghi" not in case  # a Title Case headline says nothing about case
