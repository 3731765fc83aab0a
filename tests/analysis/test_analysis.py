"""searchsvc.analysis: normalisation, tone placement, folding, numbers, pyvi words with offsets."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from pyvi import ViTokenizer

import searchsvc.analysis as analysis_module
from searchsvc.analysis import analyse, canonical, clear, fold, normalize, postings, syllables, term_positions


def texts(text: str, words: bool = True) -> list[str]:
    return [t.text for t in analyse(text, words=words)]


def test_nfc_and_nfd_analyse_to_the_same_tokens() -> None:
    nfc = "Trẻ em Hà Nội được chăm sóc, bảo vệ."
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    assert [(t.text, t.folded, t.pos, t.is_word) for t in analyse(nfd)] == [
        (t.text, t.folded, t.pos, t.is_word) for t in analyse(nfc)
    ]


def test_nfd_offsets_point_into_the_original() -> None:
    nfd = unicodedata.normalize("NFD", "Hà Nội")
    assert [nfd[t.start : t.end] for t in syllables(nfd)] == nfd.split(" ")
    assert [t.text for t in syllables(nfd)] == ["hà", "nội"]


def test_normalize_maps_back_and_drops_invisible_characters() -> None:
    assert normalize("abc") == ("abc", None)
    text, mapping = normalize("ho\u200dc")
    assert text == "hoc"
    assert mapping == [0, 1, 3, 4]


@pytest.mark.parametrize(
    ("variant", "canonical_form"),
    [("hoà", "hòa"), ("thuý", "thúy"), ("khoẻ", "khỏe"), ("QUỲ", "quỳ"), ("Hoá", "hóa"), ("hòa", "hòa")],
)
def test_tone_placement_is_canonical(variant: str, canonical_form: str) -> None:
    assert canonical(variant) == canonical_form
    assert texts(variant) == [canonical_form]


def test_tone_placement_leaves_marked_vowels_and_foreign_words() -> None:
    assert canonical("người") == "người"
    assert canonical("quốc") == "quốc"
    assert canonical("café") == "café"


@pytest.mark.parametrize(("word", "folded"), [("đường", "duong"), ("Đà", "da"), ("khỏe", "khoe"), ("ưu", "uu")])
def test_folding_removes_diacritics_including_d_bar(word: str, folded: str) -> None:
    assert fold(canonical(word)) == folded
    assert [t.folded for t in syllables(word)] == [folded]


def test_numbers_keep_separators_and_mixed_tokens_stay_whole() -> None:
    assert texts("Giá 498.000 đồng ngày 30/11/2018, đội U23", words=False) == [
        "giá",
        "498.000",
        "đồng",
        "ngày",
        "30/11/2018",
        "đội",
        "u23",
    ]


def test_cong_and_cong_nang_differ_exactly_but_fold_together() -> None:
    (cong,) = syllables("công")
    (cong_dot,) = syllables("cộng")
    assert cong.text != cong_dot.text
    assert cong.folded == cong_dot.folded == "cong"


def test_pyvi_words_with_offsets() -> None:
    text = "Các Trẻ em đi học."
    words = [t for t in analyse(text) if t.is_word]
    assert [(t.text, t.folded, text[t.start : t.end]) for t in words] == [("trẻ_em", "tre_em", "Trẻ em")]


def test_words_sit_at_their_first_syllable() -> None:
    tokens = analyse("Hôm nay trẻ em đi học")
    (tre_em,) = [t for t in tokens if t.text == "trẻ_em"]
    (tre,) = [t for t in tokens if t.text == "trẻ" and not t.is_word]
    assert tre_em.pos == tre.pos == 2


def test_seed_segmentation_mistake_keeps_the_syllables() -> None:
    # pyvi glues "quốc gia bảo vệ" into one word in the seed article; search for "bảo vệ" must still match.
    text = "Chương trình quốc gia bảo vệ, chăm sóc trẻ em trên địa bàn."
    tokens = analyse(text)
    assert "quốc_gia_bảo_vệ" in [t.text for t in tokens if t.is_word]
    positions = {t.text: t.pos for t in tokens if not t.is_word}
    assert positions["vệ"] == positions["bảo"] + 1


def test_every_pyvi_word_becomes_a_word_token() -> None:
    text = "Chương trình quốc gia bảo vệ, chăm sóc trẻ em trên địa bàn."
    pyvi_words = [w.lower() for w in ViTokenizer.tokenize(text).split(" ") if "_" in w]
    ours = [t.text for t in analyse(text) if t.is_word]
    assert ours == pyvi_words, f"missing pyvi words: {sorted(set(pyvi_words) - set(ours))}"  # địa_bàn is lost


def _plain_postings(parts: tuple[str, ...], folded: bool,
                    weights: tuple[float, ...]) -> dict[str, tuple[list[int], float]]:
    """Term -> (positions, weight) counted from analyse()'s tokens, the slow obvious way."""
    out: dict[str, tuple[list[int], float]] = {}
    base = 0
    for text, weight in zip(parts, weights, strict=True):
        if not text:
            continue
        tokens = analyse(text)
        for t in tokens:
            if folded and t.is_word:
                continue
            positions, total = out.get(t.folded if folded else t.text, ([], 0.0))
            out[t.folded if folded else t.text] = (sorted(positions + [base + t.pos]), total + weight)
        base += sum(1 for t in tokens if not t.is_word) + 100
    return out


@pytest.mark.parametrize("folded", [False, True])
def test_term_positions_are_a_count_of_the_tokens(sample_articles: tuple, folded: bool) -> None:
    weights = (3.0, 1.5, 1.0)
    for article in sample_articles[:40]:
        parts = (article.title, article.lead, article.body[:2000])
        tp = term_positions(parts, folded, weights)
        bounds = np.cumsum(tp.counts).tolist()
        got = {term: (tp.positions[end - count : end].tolist(), weight) for term, count, end, weight
               in zip(tp.terms, tp.counts.tolist(), bounds, tp.weights.tolist(), strict=True)}
        assert got == _plain_postings(parts, folded, weights)
        assert tp.utf8 == [t.encode("utf-8") for t in tp.terms]
        positions, w = postings(parts, folded, weights)
        assert {t: (p, w[t]) for t, p in positions.items()} == got


def test_tables_that_start_over_give_the_same_analysis(sample_articles: tuple,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = [a.body[:1500] for a in sample_articles[:60]]
    before = [analyse(b) for b in bodies]
    clear()
    monkeypatch.setattr(analysis_module, "CHUNK_LIMIT", 50)  # the tables start over every text or two
    assert [analyse(b) for b in bodies] == before
    assert [term_positions(b, False).terms for b in bodies] == [term_positions(b, False).terms for b in bodies]
