"""pyvi word segmentation, with character offsets.

``ViTokenizer.tokenize`` returns a re-spaced string and no offsets. We run pyvi's own syllabifier
regex with ``finditer`` (so every pyvi token keeps its span), build the same CRF features pyvi builds
(computing each token's properties once instead of up to five times), and apply pyvi's own joining
rules. The result is exactly pyvi's segmentation, with spans, and faster than pyvi itself.
"""

from __future__ import annotations

import re
import string
from typing import Any

from pyvi.ViTokenizer import ViTokenizer

# pyvi's sylabelize() pattern, verbatim, so the tokens are the ones its CRF model was trained on.
_PYVI_TOKEN = re.compile(
    "("
    + "|".join(
        [
            r"[A-ZĐ]+\.", r"Tp\.", r"Mr\.", r"Mrs\.", r"Ms\.", r"Dr\.", r"ThS\.",
            "==>", "->", r"\.\.\.", ">>", "\n",
            r"\w+://[^\s]+",
            r"([a-zA-Z0-9_.+-]+@([a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+)",
            r"\d+([\.,_]\d+)+", r"[^\w\s]", r"\w+",
        ]
    )
    + ")",
    re.UNICODE,
)
_PUNCTUATION = frozenset(string.punctuation)
_BIGRAMS: set[str] = ViTokenizer.bi_grams
_TRIGRAMS: set[str] = ViTokenizer.tri_grams


def _features(tokens: list[str]) -> list[dict[str, Any]]:
    lower = [t.lower() for t in tokens]
    title = [t.istitle() for t in tokens]
    upper = [t.isupper() for t in tokens]
    n = len(tokens)
    feats: list[dict[str, Any]] = []
    for i in range(n):
        f: dict[str, Any] = {
            "bias": 1.0,
            "word.lower()": lower[i],
            "word.isupper()": upper[i],
            "word.istitle()": title[i],
            "word.isdigit()": tokens[i].isdigit(),
        }
        if i > 0:
            f["-1:word.lower()"] = lower[i - 1]
            f["-1:word.istitle()"] = title[i - 1]
            f["-1:word.isupper()"] = upper[i - 1]
            f["-1:word.bi_gram()"] = lower[i - 1] + " " + lower[i] in _BIGRAMS
            if i > 1:
                f["-2:word.tri_gram()"] = lower[i - 2] + " " + lower[i - 1] + " " + lower[i] in _TRIGRAMS
        if i < n - 1:
            f["+1:word.lower()"] = lower[i + 1]
            f["+1:word.istitle()"] = title[i + 1]
            f["+1:word.isupper()"] = upper[i + 1]
            f["+1:word.bi_gram()"] = lower[i] + " " + lower[i + 1] in _BIGRAMS
            if i < n - 2:
                f["+2:word.tri_gram()"] = lower[i] + " " + lower[i + 1] + " " + lower[i + 2] in _TRIGRAMS
        feats.append(f)
    return feats


def _joins(prev: str, cur: str, label: str) -> bool:
    """pyvi's rule for gluing a token to the previous one (see ``ViTokenizer.tokenize``)."""
    return (
        label == "I_W"
        and cur not in _PUNCTUATION
        and prev not in _PUNCTUATION
        and not cur[0].isdigit()
        and not prev[0].isdigit()
        and not (cur[0].istitle() and not prev[0].istitle())
    )


def word_spans(text: str) -> list[tuple[int, int, int]]:
    """Spans of pyvi's multi-syllable words in NFC ``text``: (start, end, number of pyvi tokens)."""
    matches = list(_PYVI_TOKEN.finditer(text))
    if len(matches) < 2:
        return []
    tokens = [m.group() for m in matches]
    labels = ViTokenizer.model.predict_single(_features(tokens))
    spans: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(tokens) + 1):
        if i < len(tokens) and _joins(tokens[i - 1], tokens[i], labels[i]):
            continue
        if i - start > 1:
            spans.append((matches[start].start(), matches[i - 1].end(), i - start))
        start = i
    return spans


def pyvi_words(text: str) -> list[str]:
    """The words pyvi would print for NFC ``text``, syllables joined by ``_`` (for checking parity)."""
    matches = list(_PYVI_TOKEN.finditer(text))
    if not matches:
        return []
    tokens = [m.group() for m in matches]
    labels = ViTokenizer.model.predict_single(_features(tokens))
    words = [tokens[0]]
    for i in range(1, len(tokens)):
        if _joins(tokens[i - 1], tokens[i], labels[i]):
            words[-1] += "_" + tokens[i]
        else:
            words.append(tokens[i])
    return words
