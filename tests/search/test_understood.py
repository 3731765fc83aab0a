"""What the engine understood, on the packaged sample: joined spellings, the reading searched
(``interpreted_as``), searching as typed (``verbatim``) and did-you-mean when only some words match."""

from __future__ import annotations

from typing import Any

import pytest

from searchsvc.search.results import SearchRequest


def _ids(engine: Any, q: str, n: int = 50, **kw: Any) -> tuple[int, list[str], Any]:
    r = engine.search(SearchRequest(q=q, per_page=n, highlight=False, facets=False, **kw))
    return r.total, [h.id for h in r.hits], r


@pytest.mark.parametrize("joined, spaced", [("hanoi", "ha noi"), ("bongda", "bong da"), ("vietnam", "viet nam"),
                                            ("Hanoi", "Hà Nội")])
def test_joined_spellings_find_what_the_spaced_ones_find(sample_engine: Any, joined: str, spaced: str) -> None:
    total, ids, r = _ids(sample_engine, joined)
    spaced_total, spaced_ids, _ = _ids(sample_engine, spaced)
    assert spaced_total > 20
    assert total >= spaced_total
    assert set(spaced_ids[:10]) <= set(ids)
    assert r.interpreted_as is not None and " " in r.interpreted_as


def test_joined_and_written_forms_both_match(sample_engine: Any) -> None:
    # "tphcm" is also written as one word in the news: the split adds "tp hcm", it does not replace it.
    total, _, r = _ids(sample_engine, "tphcm")
    assert total >= max(_ids(sample_engine, "tp hcm")[0], _ids(sample_engine, "tphcm", verbatim=True)[0])
    assert r.interpreted_as == "tp hcm"


@pytest.mark.parametrize("q, reading", [
    ("tre em", "trẻ em"), ("tre3 em", "trẻ em"), ("Tre em", "Trẻ em"), ("hanoi", "hà nội"),
    ('"tre em" bong da', '"trẻ em" bóng đá'),
])
def test_the_reading_searched_is_returned(sample_engine: Any, q: str, reading: str) -> None:
    assert _ids(sample_engine, q)[2].interpreted_as == reading


@pytest.mark.parametrize("q", ["trẻ em", "Hà Nội", "bóng đá việt nam"])
def test_nothing_is_said_when_we_searched_what_was_typed(sample_engine: Any, q: str) -> None:
    assert _ids(sample_engine, q)[2].interpreted_as is None


def test_verbatim_searches_as_typed(sample_engine: Any) -> None:
    total, ids, r = _ids(sample_engine, "tre em", verbatim=True)
    restored_total, restored_ids, _ = _ids(sample_engine, "tre em")
    assert r.interpreted_as is None
    assert total >= restored_total  # the folded match alone: every accent reading of both words
    assert ids != restored_ids  # no accent preference: the ranking is not the restored one
    # No Telex decoding, no splitting.
    assert _ids(sample_engine, "tre3 em", verbatim=True)[2].all_words_total == 0  # nothing holds "tre3"
    assert _ids(sample_engine, "tre3 em")[2].all_words_total
    assert _ids(sample_engine, "hanoi", verbatim=True)[0] < _ids(sample_engine, "hanoi")[0]


def test_did_you_mean_when_only_some_words_match(sample_engine: Any) -> None:
    total, _, r = _ids(sample_engine, "bong daa viet namm")
    assert total >= 50 and r.all_words_total == 0  # many partial matches, none with every word
    assert r.did_you_mean == "bong da viet nam"
    fixed = _ids(sample_engine, "bong da viet nam")[2]
    assert fixed.all_words_total and fixed.all_words_total == fixed.total


def test_did_you_mean_keeps_the_readers_case(sample_engine: Any) -> None:
    assert _ids(sample_engine, "Ronaldoo")[2].did_you_mean == "Ronaldo"
