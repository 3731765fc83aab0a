"""searchsvc.analysis: normalisation, tone placement, folding, numbers, pyvi words with offsets."""

from __future__ import annotations

import unicodedata

import pytest
from pyvi import ViTokenizer

from searchsvc.analysis import analyse, canonical, fold, normalize, syllables


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
