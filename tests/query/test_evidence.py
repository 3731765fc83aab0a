"""Votes from the documents' own spelling: a stretch of the query's syllables side by side in a text votes for
the forms it holds there, by the share of the run's joins it covers; a lone syllable is no vote."""

from __future__ import annotations

import pytest

from searchsvc.analysis import fold_text, syllables
from searchsvc.articles import Article
from searchsvc.query.evidence import MIN_STRETCH, votes
from searchsvc.query.restore import Syllable


def _run(text: str) -> list[Syllable]:
    return [Syllable(t.text, t.folded, t.text != t.folded, t.start, t.end) for t in syllables(text)]


def test_a_text_holding_the_whole_run_votes_one_for_each_unaccented_syllable() -> None:
    got = votes([_run("dau giai phong")], ["Đâu giải phóng mặt bằng"])
    assert got == {(0, 0): {"đâu": 1.0}, (0, 1): {"giải": 1.0}, (0, 2): {"phóng": 1.0}}


def test_a_stretch_votes_by_its_share_of_the_joins_and_fewer_than_three_syllables_not_at_all() -> None:
    assert MIN_STRETCH == 3
    run = _run("ban moi cua toi")
    assert votes([run], ["Mới mua bàn, tôi khoe bạn mới"]) == {}  # a pair: chance in a long run
    got = votes([run], ["Mới mua bàn, tôi khoe bạn mới của hãng"])
    assert got == {(0, 0): {"bạn": pytest.approx(2 / 3)}, (0, 1): {"mới": pytest.approx(2 / 3)},
                   (0, 2): {"của": pytest.approx(2 / 3)}}
    # A run shorter than three syllables votes with the whole of it.
    assert votes([_run("ban moi")], ["Làm quen bạn mới"]) == {(0, 0): {"bạn": 1.0}, (0, 1): {"mới": 1.0}}
    # A syllable alone is never a vote, even when it is the whole run.
    assert votes([_run("ban")], ["Làm quen bạn mới"]) == {}


def test_each_text_votes_once_per_syllable_with_its_longest_stretch_and_votes_add_up() -> None:
    run = _run("ban moi cua toi")
    got = votes([run], ["bàn mới của, bạn mới của tôi", "bàn mới của hôm nay"])
    assert got[(0, 0)] == {"bạn": pytest.approx(1.0), "bàn": pytest.approx(2 / 3)}
    assert got[(0, 3)] == {"tôi": pytest.approx(1.0)}


def test_syllables_typed_with_accents_must_agree_and_get_no_vote() -> None:
    run = _run("đâu giai phong mat")
    assert votes([run], ["Đầu giải phóng mặt"]) == {(0, i): {f: pytest.approx(2 / 3)}
                                                    for i, f in ((1, "giải"), (2, "phóng"), (3, "mặt"))}
    assert votes([run], ["Đâu giải phóng"]) == {(0, 1): {"giải": pytest.approx(2 / 3)},
                                                (0, 2): {"phóng": pytest.approx(2 / 3)}}


def test_punctuation_breaks_a_stretch_and_runs_are_numbered_apart() -> None:
    assert votes([_run("ban moi")], ["bạn. Mới"]) == {}
    got = votes([_run("tre em"), _run("bong da")], ["Trẻ em chơi bóng đá"])
    assert got == {(0, 0): {"trẻ": 1.0}, (0, 1): {"em": 1.0}, (1, 0): {"bóng": 1.0}, (1, 1): {"đá": 1.0}}


def test_texts_folded_by_the_caller_vote_as_when_folded_here(sample_articles: tuple[Article, ...]) -> None:
    titles = [a.title for a in sample_articles]
    runs = [_run(fold_text(" ".join(t.split()[:3]))) for t in titles[:40:4]]
    assert any(votes(runs, titles))  # the headlines' own runs: there is something to vote
    assert votes(runs, titles, [fold_text(t) for t in titles]) == votes(runs, titles)
