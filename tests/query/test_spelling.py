"""query.spelling: did-you-mean from the index's own syllables, one edit away."""

from __future__ import annotations

from searchsvc.model.vocabulary import Vocabulary
from searchsvc.query.parse import parse
from searchsvc.query.spelling import correct, correct_syllable


def vocab() -> Vocabulary:
    return Vocabulary(syllables={"nghiep": [("nghiệp", 5)], "doanh": [("doanh", 9)], "nghiem": [("nghiêm", 2)]},
                      exact_df={"nghiệp": 5, "doanh": 9, "nghiêm": 2},
                      fold_df={"nghiep": 5, "doanh": 9, "nghiem": 2}, doc_count=10)


def test_the_most_frequent_syllable_one_edit_away() -> None:
    v = vocab()
    assert correct_syllable("nghiepp", v) == "nghiep"
    assert correct_syllable("nghie", v) == "nghiep"  # nghiep (5) over nghiem (2)
    assert correct_syllable("doanh", v) is None  # known
    assert correct_syllable("zz", v) is None  # too short to guess


def test_the_corrected_query_keeps_phrases_and_accents() -> None:
    v = vocab()
    assert correct(parse('doanh nghiepp "doanh nghiepp"'), v) == 'doanh nghiệp "doanh nghiệp"'
    assert correct(parse("doanh nghiệp"), v) is None
