"""searchsvc.analysis.segment: exactly pyvi's segmentation, with spans that slice to the words.

Checked here on the packaged sample (every source): every whole title, lead and body, and each of their
sentences on its own (thousands), also with the chunk tables starting over every few texts;
bench/segment_equivalence.py checks whole corpora.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

import pytest
from pyvi import ViTokenizer

from searchsvc.analysis import segment
from searchsvc.analysis.segment import pyvi_words, word_spans
from searchsvc.articles import Article

PER_SOURCE = 75
FIELD_CHARS = 1500  # pyvi's CRF is the cost; a prefix of each body is as good a sample


def _texts(articles: Iterable[Article]) -> list[str]:
    out: list[str] = []
    taken: Counter[str] = Counter()
    for article in articles:
        taken[article.source] += 1
        if taken[article.source] > PER_SOURCE:
            continue
        for text in (article.title, article.lead, article.body):
            # A "_" in the text would be indistinguishable from pyvi's joiner in its output.
            if text.strip() and "_" not in text:
                out.append(unicodedata.normalize("NFC", text[:FIELD_CHARS]))
    return out


@pytest.fixture(scope="module")
def texts(sample_articles: tuple[Article, ...]) -> list[str]:
    found = _texts(sample_articles)
    assert len(found) > 600
    return found


def test_pyvi_words_equal_pyvi_on_real_documents(texts: list[str]) -> None:
    mismatched = [t[:80] for t in texts if pyvi_words(t) != ViTokenizer.tokenize(t).split(" ")]
    assert mismatched == []


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@pytest.fixture(scope="module")
def sentences(sample_articles: tuple[Article, ...]) -> list[str]:
    found = [sentence for article in sample_articles for text in (article.title, article.lead, article.body)
             if "_" not in text for sentence in _SENTENCE_END.split(unicodedata.normalize("NFC", text))
             if sentence.strip()]
    assert len(found) > 5000
    return found


def _mismatches(texts: list[str]) -> list[str]:
    return [t[:80] for t in texts if pyvi_words(t) != ViTokenizer.tokenize(t).split(" ")]


def test_pyvi_words_equal_pyvi_on_thousands_of_real_sentences(sentences: list[str]) -> None:
    assert _mismatches(sentences) == []


def test_pyvi_words_equal_pyvi_on_whole_fields(sample_articles: tuple[Article, ...]) -> None:
    whole = [unicodedata.normalize("NFC", t) for a in sample_articles for t in (a.title, a.lead, a.body)
             if t.strip() and "_" not in t]
    assert len(whole) > 1000
    assert _mismatches(whole) == []


def test_tables_that_start_over_give_the_same_words(texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # The chunk and token-row tables start over past their limit (bounded memory): every few texts here.
    before = [word_spans(t) for t in texts[:200]]
    segment.clear()
    monkeypatch.setattr(segment._Tokens, "LIMIT", 300)
    assert [word_spans(t) for t in texts[:200]] == before
    assert _mismatches(texts[:200]) == []


def test_word_spans_slice_to_the_multi_syllable_words(texts: list[str]) -> None:
    for text in texts:
        glued = [w for w in pyvi_words(text) if "_" in w]
        spans = word_spans(text)
        assert len(spans) == len(glued)
        for (start, end, n), word in zip(spans, glued, strict=True):
            piece = text[start:end]
            assert "".join(piece.split()) == word.replace("_", ""), (piece, word)
            assert n == word.count("_") + 1
            assert piece == piece.strip()


def test_spans_on_a_known_sentence() -> None:
    text = "Hôm nay trẻ em Hà Nội đi học."
    assert [text[s:e] for s, e, _ in word_spans(text)] == ["Hôm nay", "trẻ em", "Hà Nội"]
    assert pyvi_words(text) == ["Hôm_nay", "trẻ_em", "Hà_Nội", "đi", "học", "."]


def test_pyvi_specials_and_newlines_keep_their_tokens() -> None:
    text = "Ông A.B. ở Tp. HCM viết:\n\n==> xem http://vn.x/a_b?c=1 , gửi a.b+c@mail.com.vn ... 1.234,5 đồng >> hết"
    assert pyvi_words(text) == ViTokenizer.tokenize(text).split(" ")


def test_short_inputs() -> None:
    assert word_spans("") == []
    assert word_spans("một") == []
    assert pyvi_words("") == []
    assert pyvi_words("một") == ["một"]
