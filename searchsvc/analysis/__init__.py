"""Vietnamese analysis, one module for indexing and querying alike.

A text becomes *syllable* tokens (every run of letters or a number such as ``498.000`` or
``30/11/2018``) and pyvi *word* tokens (``trẻ_em``), each with a position and character offsets into
the original string. Every token has an exact form (lowercase, NFC, canonical tone placement) and a
folded form (no diacritics, ``đ`` → ``d``). Words sit at the position of their first syllable, like
synonyms, so phrase queries over syllables still work and segmentation mistakes lose nothing.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from searchsvc.analysis.normalize import canonical, fold, fold_text, normalize

__all__ = [
    "Token", "analyse", "syllables", "syllable_spans", "postings", "canonical", "fold", "fold_text",
    "normalize", "WORD_JOINER",
]

WORD_JOINER = "_"
PART_GAP = 100  # positions between the parts of a multi-part field (title, lead, body)
# Numbers keep their inner separators (498.000, 30/11/2018, 3,2); otherwise runs of letters/digits.
SYLLABLE = re.compile(r"\d+(?:[.,/:]\d+)+|(?:[^\W_]|[\u0300-\u036f])+")


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # exact form
    folded: str
    pos: int
    start: int  # offsets into the original text
    end: int
    is_word: bool = False  # a pyvi multi-syllable word rather than a syllable


@dataclass(frozen=True, slots=True)
class _Analysis:
    exact: tuple[str, ...]
    folded: tuple[str, ...]
    positions: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    n_syllables: int


@lru_cache(maxsize=256)
def _analyse(text: str, words: bool) -> _Analysis:
    # Cached: the exact and folded fields of one document analyse the same string back to back, and a
    # popular query highlights the same articles again and again.
    norm, mapping = normalize(text)
    exact: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for m in SYLLABLE.finditer(norm):
        exact.append(canonical(m.group()))
        starts.append(m.start())
        ends.append(m.end())
    n = len(exact)
    positions = list(range(n))
    if words and n > 1:
        # Imported here: pyvi loads its CRF model and scikit-learn (~3 s), which `searchsvc --help`,
        # query parsing and highlighting never need.
        from searchsvc.analysis.segment import word_spans

        for wstart, wend, _ in word_spans(norm):
            # Bisect the syllables only: word starts are appended to the same list as we go.
            first = bisect_right(starts, wstart, 0, n) - 1
            last = bisect_right(starts, wend - 1, 0, n) - 1
            if first < 0 or last <= first or starts[first] != wstart or ends[last] != wend:
                continue  # a pyvi word that does not line up with syllables (numbers, abbreviations)
            exact.append(WORD_JOINER.join(exact[first : last + 1]))
            positions.append(first)
            starts.append(wstart)
            ends.append(wend)
    if mapping is not None:
        starts = [mapping[s] for s in starts]
        ends = [mapping[e] for e in ends]
    folded = tuple(WORD_JOINER.join(fold(p) for p in t.split(WORD_JOINER)) if i >= n else fold(t)
                   for i, t in enumerate(exact))
    return _Analysis(tuple(exact), folded, tuple(positions), tuple(starts), tuple(ends), n)


def analyse(text: str, words: bool = True) -> list[Token]:
    """All tokens of ``text``: syllables in order, then pyvi words (when ``words``)."""
    a = _analyse(text, words)
    return [
        Token(a.exact[i], a.folded[i], a.positions[i], a.starts[i], a.ends[i], i >= a.n_syllables)
        for i in range(len(a.exact))
    ]


def syllable_spans(text: str, words: bool = False) -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...],
                                                             tuple[int, ...]]:
    """Syllables as parallel tuples (exact, folded, start, end): highlighting's hot path, no Token objects.

    ``words=True`` takes them from the indexing analysis (with pyvi words) of the same text, when
    that was just made: it is cached, and pyvi is the expensive part.
    """
    a = _analyse(text, words)
    n = a.n_syllables
    return a.exact[:n], a.folded[:n], a.starts[:n], a.ends[:n]


def syllables(text: str) -> list[Token]:
    """Syllable tokens only: no pyvi, cheap enough for highlighting at query time."""
    return analyse(text, words=False)


def postings(parts: str | Sequence[str], folded: bool, weights: Sequence[float] = (1.0,),
             gap: int = PART_GAP) -> tuple[dict[str, list[int]], dict[str, float]]:
    """Term → positions, and term → weight, for one field value: the indexing fast path (no Token objects).

    A value may be several parts (title, lead, body) indexed as one field: positions continue across
    parts with a ``gap`` so phrases never span two parts, and each occurrence adds its part's weight,
    so the term frequency BM25 sees is already field-weighted (BM25F).
    Folded fields keep syllables only: pyvi words help precision when the user typed accents (exact
    fields); for unaccented queries we restore accents from the exact vocabulary instead.
    """
    if isinstance(parts, str):
        parts = (parts,)
    positions: dict[str, list[int]] = {}
    weights_out: dict[str, float] = {}
    base = 0
    for index, text in enumerate(parts):
        if not text:
            continue
        weight = weights[index] if index < len(weights) else weights[-1]
        a = _analyse(text, True)
        terms = a.folded[: a.n_syllables] if folded else a.exact
        for term, pos in zip(terms, a.positions):
            lst = positions.get(term)
            if lst is None:
                positions[term] = [base + pos]
                weights_out[term] = weight
            else:
                lst.append(base + pos)
                weights_out[term] += weight
        base += a.n_syllables + gap
    if not folded:
        for lst in positions.values():
            lst.sort()  # word tokens sit at their first syllable, after the syllables that follow it
    return positions, weights_out
