"""Token offsets slice the original text back to the token: on arbitrary text and on real news.

Highlighting slices what the author wrote with these offsets, so the property must hold for NFD input,
invisible characters and emoji as well as for ordinary NFC news. Real news here is the packaged sample
and tests/fixtures/vietnews_nfd.jsonl; bench/offsets_check.py checks every news corpus whole.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchsvc.analysis import WORD_JOINER, analyse, syllables
from searchsvc.articles import Article
from searchsvc.evaluation import load_corpus

NFD_NEWS = Path(__file__).parents[1] / "fixtures" / "vietnews_nfd.jsonl"  # 50 vietnews docs with decomposed marks
BODY_CHARS = 600  # bodies are cut so the test stays well under a minute

_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxy" + "AĂÂĐÊÔƠƯQZWFJ"
_TONED = "àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ" + "ÀÁẢÃẠỘỨỸ"
_MARKS = "\u0300\u0301\u0303\u0309\u0323\u0302\u0306\u031b\u0308"
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_OTHER = "0123456789 .,/:-_'\"()\n\t\u2028\u00a0😀👍🏽🇻🇳éüßİ北京"
vietnamese_text = st.text(alphabet=st.sampled_from(_LETTERS + _TONED + _MARKS + _INVISIBLE + _OTHER), max_size=60)


def syllable_failures(text: str) -> list[str]:
    out = []
    for tok in syllables(text):
        piece = text[tok.start : tok.end]
        again = [t.text for t in syllables(piece)]
        if again != [tok.text]:
            out.append(f"{tok.text!r} sliced to {piece!r} reanalyses to {again!r}")
    return out


def all_failures(text: str) -> list[str]:
    out = syllable_failures(text)
    for tok in analyse(text):
        if tok.is_word:
            piece = text[tok.start : tok.end]
            again = WORD_JOINER.join(t.text for t in syllables(piece))
            if again != tok.text:
                out.append(f"word {tok.text!r} sliced to {piece!r} reanalyses to {again!r}")
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(vietnamese_text, st.text(max_size=40)))
def test_syllable_slices_reanalyse_to_themselves(text: str) -> None:
    assert syllable_failures(text) == []


@settings(max_examples=200, deadline=None)
@given(vietnamese_text.map(lambda t: unicodedata.normalize("NFD", t)))
def test_syllable_slices_of_decomposed_text(text: str) -> None:
    assert syllable_failures(text) == []


@settings(max_examples=200, deadline=None)
@given(vietnamese_text)
def test_word_slices_hold_exactly_their_syllables(text: str) -> None:
    assert all_failures(text) == []


def document_failures(docs: Iterable[Mapping[str, object]]) -> tuple[int, int, list[str]]:
    """(fields checked, of them decomposed, failures) over the title, lead and body of ``docs``."""
    checked = decomposed = 0
    failures: list[str] = []
    for doc in docs:
        for field in ("title", "lead", "body"):
            text = doc.get(field)
            if isinstance(text, str) and text:
                checked += 1
                decomposed += not unicodedata.is_normalized("NFC", text[:BODY_CHARS])
                failures += [f"{doc.get('id')}/{field}: {f}" for f in all_failures(text[:BODY_CHARS])]
    return checked, decomposed, failures


def test_offsets_on_the_sample_corpus(sample_articles: tuple[Article, ...]) -> None:
    checked, decomposed, failures = document_failures(asdict(a) for a in sample_articles)
    assert checked > 1000 and decomposed >= 10  # five sources, its NFD articles as written
    assert failures == []


def test_offsets_on_decomposed_news() -> None:
    docs = list(load_corpus(NFD_NEWS))
    checked, decomposed, failures = document_failures(docs)
    assert len(docs) == 50 and checked == 150 and decomposed >= 50  # a field in NFD for every doc, or more
    assert failures == []
