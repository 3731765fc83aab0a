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
    # Typed without accents, corrected without them: the search restores them and says so (interpreted_as).
    assert correct(parse('doanh nghiepp "doanh nghiepp"'), v) == 'doanh nghiep "doanh nghiep"'
    assert correct(parse('doanh nghiệpp'), v) == "doanh nghiệp"  # typed with accents: corrected with them
    assert correct(parse("doanh nghiệp"), v) is None


def test_a_very_rare_syllable_next_to_a_common_one_is_a_typo() -> None:
    v = Vocabulary(syllables={"da": [("đá", 900)], "daa": [("daa", 2)]}, exact_df={"đá": 900, "daa": 2},
                   fold_df={"da": 900, "daa": 2}, doc_count=1000)
    assert correct_syllable("daa", v) == "da"  # 2 documents against 900
    rare = Vocabulary(syllables=v.syllables, exact_df=v.exact_df, fold_df={"da": 100, "daa": 2}, doc_count=1000)
    assert correct_syllable("daa", rare) is None  # 50 times commoner is not enough


def test_the_correction_keeps_the_readers_case() -> None:
    v = Vocabulary(syllables={"ronaldo": [("ronaldo", 50)]}, exact_df={"ronaldo": 50}, fold_df={"ronaldo": 50},
                   doc_count=100)
    assert correct(parse("Ronaldoo ghi bàn"), v) == "Ronaldo ghi bàn"
    assert correct(parse("RONALDOO"), v) == "RONALDO"
