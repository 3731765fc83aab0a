"""Vietnamese analysis, one module for indexing and querying alike.

A text becomes *syllable* tokens (every run of letters or a number such as ``498.000`` or
``30/11/2018``) and pyvi *word* tokens (``trẻ_em``), each with a position and character offsets into
the original string. Every token has an exact form (lowercase, NFC, canonical tone placement) and a
folded form (no diacritics, ``đ`` → ``d``). Words sit at the position of their first syllable, like
synonyms, so phrase queries over syllables still work and segmentation mistakes lose nothing.

Each distinct whitespace-free chunk of text is analysed once per process (``chunks.py``) and every form is
numbered once (``_Terms``), so indexing a text is mostly dictionary look-ups and numpy. The tables are
bounded: past their limits they start over, between two calls (``clear()`` empties them at once).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

import numpy as np

from searchsvc.analysis.chunks import Columns, split
from searchsvc.analysis.normalize import canonical, fold, fold_text, normalize

__all__ = [
    "Token", "TermPositions", "analyse", "syllables", "syllable_spans", "syllable_ids", "postings",
    "term_positions", "clear", "canonical", "fold", "fold_text", "normalize", "WORD_JOINER",
]

WORD_JOINER = "_"
PART_GAP = 100  # positions between the parts of a multi-part field (title, lead, body)
# Numbers keep their inner separators (498.000, 30/11/2018, 3,2); otherwise runs of letters/digits.
SYLLABLE = re.compile(r"\d+(?:[.,/:]\d+)+|(?:[^\W_]|[\u0300-\u036f])+")
CHUNK_LIMIT = 100_000  # distinct chunks (about 80 MB with their forms) kept before the tables start over


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # exact form
    folded: str
    pos: int
    start: int  # offsets into the original text
    end: int
    is_word: bool = False  # a pyvi multi-syllable word rather than a syllable


@dataclass(frozen=True, slots=True)
class TermPositions:
    """One field value's postings as columns: term ``i`` occurs ``counts[i]`` times, at the next
    ``counts[i]`` entries of ``positions`` (ascending), with the sum of its parts' weights ``weights[i]``."""

    terms: list[str]
    utf8: list[bytes]
    counts: np.ndarray
    weights: np.ndarray
    positions: np.ndarray


class _Terms:
    """Every exact form seen (syllables and words), numbered, with its folded form, itself numbered."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.text: list[str] = []
        self.utf8: list[bytes] = []
        self.folded: list[str] = []
        self.fold_id = np.zeros(1024, np.int64)
        self.fold_ids: dict[str, int] = {}
        self.fold_text: list[str] = []
        self.fold_utf8: list[bytes] = []

    def intern(self, exact: str, folded: str) -> int:
        known = self.ids.get(exact)
        if known is not None:
            return known
        i = self.ids[exact] = len(self.text)
        self.text.append(exact)
        self.utf8.append(exact.encode("utf-8"))
        self.folded.append(folded)
        if i == len(self.fold_id):
            self.fold_id = np.concatenate([self.fold_id, np.zeros_like(self.fold_id)])
        f = self.fold_ids.get(folded)
        if f is None:
            f = self.fold_ids[folded] = len(self.fold_text)
            self.fold_text.append(folded)
            self.fold_utf8.append(folded.encode("utf-8"))
        self.fold_id[i] = f
        return i


class _Tables:
    def __init__(self) -> None:
        self.terms = _Terms()
        self.chunks = Columns(("term", "start", "end"))  # each chunk's syllables
        self.words: dict[str, int] = {}  # the text of a pyvi word (syllables and what separates them) -> term

    def full(self) -> bool:
        return len(self.chunks) > CHUNK_LIMIT or len(self.terms.text) > 2 * CHUNK_LIMIT

    def syllables(self, chunk: str) -> int:
        cols, intern = self.chunks.columns, self.terms.intern
        for m in SYLLABLE.finditer(chunk):
            exact = canonical(m.group())
            cols["term"].append(intern(exact, fold(exact)))
            cols["start"].append(m.start())
            cols["end"].append(m.end())
        return self.chunks.finish_chunk(chunk)

    def word(self, piece: str, syllables: list[int]) -> int:
        terms = self.terms
        exact = WORD_JOINER.join([terms.text[i] for i in syllables])
        folded = WORD_JOINER.join([terms.folded[i] for i in syllables])
        i = self.words[piece] = terms.intern(exact, folded)
        return i


_TABLES = _Tables()
# The tables grow and start over as texts are analysed: one analysis at a time per process (it holds the
# GIL nearly throughout anyway), so a thread never sees numbers from two generations of tables.
_LOCK = threading.RLock()


def clear() -> None:
    """Forgets every chunk and form seen (a reindex starts with none; memory stays bounded)."""
    global _TABLES
    with _LOCK:
        _TABLES = _Tables()
        _analyse.cache_clear()
        from sys import modules

        segment = modules.get("searchsvc.analysis.segment")
        if segment is not None:  # never imported just to be cleared: pyvi takes seconds to load
            segment.clear()


def _start_call() -> _Tables:
    # Term numbers must not change within one call (postings() analyses several parts): the tables
    # start over only between calls.
    if _TABLES.full():
        clear()
    return _TABLES


@dataclass(frozen=True, slots=True)
class _Analysis:
    terms: np.ndarray  # term numbers: syllables in order, then pyvi words
    positions: np.ndarray
    starts: np.ndarray  # offsets into the original text
    ends: np.ndarray
    n_syllables: int
    tables: _Tables  # the tables the numbers refer to


def _pieces(items: list[Any], index: np.ndarray) -> tuple[Any, ...]:
    if len(index) == 0:
        return ()
    if len(index) == 1:
        return (items[int(index[0])],)
    return itemgetter(*index.tolist())(items)  # type: ignore[no-any-return]


@lru_cache(maxsize=256)
def _analyse(text: str, words: bool) -> _Analysis:
    # Cached: the exact and folded fields of one document analyse the same string back to back, and a
    # popular query highlights the same articles again and again.
    tables = _TABLES
    norm, mapping = normalize(text)
    chunks, offsets = split(norm)
    known = tables.chunks.ids
    ks = list(map(known.get, chunks))
    if None in ks:
        ks = [known[c] if c in known else tables.syllables(c) for c in chunks]
    got, at = tables.chunks.gather(ks, offsets)  # type: ignore[arg-type]  # no None left
    terms, starts, ends = got["term"], got["start"] + at, got["end"] + at
    n = len(terms)
    positions = np.arange(n)
    if words and n > 1:
        # Imported here: pyvi loads its CRF model and scikit-learn (~3 s), which `searchsvc --help`,
        # query parsing and highlighting never need.
        from searchsvc.analysis.segment import spans_of_chunks

        wstarts, wends, _ = spans_of_chunks(chunks, offsets)
        first = np.searchsorted(starts, wstarts, "right") - 1
        last = np.searchsorted(starts, wends - 1, "right") - 1
        # A pyvi word that does not line up with syllables (numbers, abbreviations) is left out.
        ok = (first >= 0) & (last > first)
        ok &= (starts[np.maximum(first, 0)] == wstarts) & (ends[np.maximum(last, 0)] == wends)
        wstarts, wends, first, last = wstarts[ok], wends[ok], first[ok], last[ok]
        pieces = list(map(norm.__getitem__, map(slice, wstarts.tolist(), wends.tolist())))
        word_terms = list(map(tables.words.get, pieces))
        if None in word_terms:
            syllable_terms = terms.tolist()
            word_terms = [w if w is not None else tables.word(piece, syllable_terms[f : la + 1])
                          for w, piece, f, la in zip(word_terms, pieces, first.tolist(), last.tolist())]
        terms = np.concatenate([terms, np.asarray(word_terms, np.int64)])
        positions = np.concatenate([positions, first])
        starts = np.concatenate([starts, wstarts])
        ends = np.concatenate([ends, wends])
    if mapping is not None:
        origin = np.asarray(mapping, np.int64)
        starts, ends = origin[starts], origin[ends]
    return _Analysis(terms, positions, starts, ends, n, tables)


def analyse(text: str, words: bool = True) -> list[Token]:
    """All tokens of ``text``: syllables in order, then pyvi words (when ``words``)."""
    with _LOCK:
        _start_call()
        a = _analyse(text, words)
    terms = a.tables.terms
    exact, folded = _pieces(terms.text, a.terms), _pieces(terms.folded, a.terms)
    n = a.n_syllables
    return [Token(*t, i >= n) for i, t in enumerate(zip(exact, folded, a.positions.tolist(), a.starts.tolist(),
                                                        a.ends.tolist()))]


def syllable_spans(text: str, words: bool = False) -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...],
                                                             tuple[int, ...]]:
    """Syllables as parallel tuples (exact, folded, start, end): highlighting's hot path, no Token objects.

    ``words=True`` takes them from the indexing analysis (with pyvi words) of the same text, when
    that was just made: it is cached, and pyvi is the expensive part.
    """
    with _LOCK:
        _start_call()
        a = _analyse(text, words)
    n = a.n_syllables
    ids = a.terms[:n]
    terms = a.tables.terms
    return (_pieces(terms.text, ids), _pieces(terms.folded, ids), tuple(a.starts[:n].tolist()),
            tuple(a.ends[:n].tolist()))


def syllable_ids(text: str, words: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``syllable_spans`` as numbers: each syllable's term number, start and end (arrays), and the table of
    exact forms the numbers index. The table only grows until the analysis starts over, when a new one
    replaces it: a caller may keep what it derived from a table for as long as it gets the same one."""
    with _LOCK:
        _start_call()
        a = _analyse(text, words)
    n = a.n_syllables
    return a.terms[:n], a.starts[:n], a.ends[:n], a.tables.terms.text


def syllables(text: str) -> list[Token]:
    """Syllable tokens only: no pyvi, cheap enough for highlighting at query time."""
    return analyse(text, words=False)


def term_positions(parts: str | Sequence[str], folded: bool, weights: Sequence[float] = (1.0,),
                   gap: int = PART_GAP) -> TermPositions:
    """Each term of one field value with its positions and weight: the indexing fast path.

    A value may be several parts (title, lead, body) indexed as one field: positions continue across
    parts with a ``gap`` so phrases never span two parts, and each occurrence adds its part's weight,
    so the term frequency BM25 sees is already field-weighted (BM25F).
    Folded fields keep syllables only: pyvi words help precision when the user typed accents (exact
    fields); for unaccented queries we restore accents from the exact vocabulary instead.
    """
    if isinstance(parts, str):
        parts = (parts,)
    ids: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    occurrence_weights: list[np.ndarray] = []
    base = 0
    with _LOCK:
        tables = _start_call()
        for index, text in enumerate(parts):
            if not text:
                continue
            weight = weights[index] if index < len(weights) else weights[-1]
            a = _analyse(text, True)
            terms = tables.terms.fold_id[a.terms[: a.n_syllables]] if folded else a.terms
            ids.append(terms)
            positions.append(a.positions[: len(terms)] + base)
            occurrence_weights.append(np.full(len(terms), weight))
            base += a.n_syllables + gap
        text_of, utf8_of = ((tables.terms.fold_text, tables.terms.fold_utf8) if folded
                            else (tables.terms.text, tables.terms.utf8))
    term_ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    # A stable sort keeps each term's occurrences in position order: parts come in order, and within a
    # part a term is either a syllable (positions ascending) or a word (word spans ascending).
    order = np.argsort(term_ids, kind="stable")
    sorted_ids = term_ids[order]
    firsts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1]))) if len(order) else order
    counts = np.diff(np.append(firsts, len(order)))
    # Sums of the parts' weights in occurrence order (3, 1.5 and 1 add up exactly in any order).
    summed = np.add.reduceat(np.concatenate(occurrence_weights)[order], firsts) if len(order) else np.zeros(0)
    numbers = sorted_ids[firsts]
    return TermPositions(list(_pieces(text_of, numbers)), list(_pieces(utf8_of, numbers)), counts, summed,
                         np.concatenate(positions)[order] if positions else order)


def postings(parts: str | Sequence[str], folded: bool, weights: Sequence[float] = (1.0,),
             gap: int = PART_GAP) -> tuple[dict[str, list[int]], dict[str, float]]:
    """Term → positions, and term → weight, for one field value (``term_positions`` as dictionaries)."""
    tp = term_positions(parts, folded, weights, gap)
    bounds = np.cumsum(tp.counts).tolist()
    flat = tp.positions.tolist()
    starts = [0] + bounds[:-1]
    return ({t: flat[s:e] for t, s, e in zip(tp.terms, starts, bounds)},
            dict(zip(tp.terms, tp.weights.tolist())))
