"""The analysis as Whoosh analyzers, so the schema names one analyzer per field.

``VietTokenizer() | ExactFilter()`` and ``VietTokenizer() | FoldFilter()`` give Whoosh the same tokens
that :func:`searchsvc.analysis.analyse` gives everyone else; the index fast path in ``schema.py`` uses
:func:`searchsvc.analysis.postings` and a test checks that the two agree. The reindex's own fast path
(``build.py``) takes a field's postings as columns from :func:`index_columns`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from whoosh.analysis import Filter, Token, Tokenizer

from searchsvc.analysis import PART_GAP, analyse, term_positions
from searchsvc.store.w3 import CompactPositions, pack_words


class VietTokenizer(Tokenizer):  # type: ignore[misc]
    """Syllables and pyvi words with positions and original-text offsets; text is the exact form.

    A tuple value is a multi-part field (title, lead, body): positions continue across parts with
    ``PART_GAP`` and each token's boost is its part's weight, exactly as the index fast path does.
    Character offsets are then relative to the token's own part.
    """

    def __init__(self, weights: tuple[float, ...] = (1.0,)) -> None:
        self.weights = tuple(weights)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.weights == self.weights  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.weights))

    def __call__(self, value: str | tuple[str, ...], positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0, start_char: int = 0,
                 tokenize: bool = True, mode: str = "", **kwargs: Any) -> Iterator[Token]:
        parts = (value,) if isinstance(value, str) else value
        base = start_pos
        for index, part in enumerate(parts):
            if not part:
                continue
            boost = self.weights[min(index, len(self.weights) - 1)]
            toks = analyse(part)
            for tok in toks:
                # A fresh Token per yield: Whoosh's shared mutable token is a trap (see STYLE.md).
                t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
                t.text = tok.text
                t.folded = tok.folded
                t.boost = boost
                t.stopped = False
                if keeporiginal:
                    t.original = part[tok.start:tok.end]
                if positions:
                    t.pos = base + tok.pos
                if chars:
                    t.startchar = start_char + tok.start
                    t.endchar = start_char + tok.end
                yield t
            base += sum(1 for tok in toks if not tok.is_word) + PART_GAP


class ExactFilter(Filter):  # type: ignore[misc]
    """Keeps the exact (accented, canonical) form: the tokenizer already produces it."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        return tokens


class FoldFilter(Filter):  # type: ignore[misc]
    """Replaces each syllable's text with its diacritic-free form and drops pyvi words."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for t in tokens:
            if "_" in t.text:
                continue
            t.text = t.folded
            yield t


def exact_analyzer(weights: tuple[float, ...] = (1.0,)) -> Any:
    return VietTokenizer(weights) | ExactFilter()


def fold_analyzer(weights: tuple[float, ...] = (1.0,)) -> Any:
    return VietTokenizer(weights) | FoldFilter()


IndexColumns = tuple[list[bytes], np.ndarray, np.ndarray, np.ndarray, bytes]


def index_columns(field: Any, value: str | tuple[str, ...]) -> IndexColumns | None:
    """What ``field.index(value)`` yields, as columns: terms (UTF-8), frequencies, weights, value lengths
    and the values end to end, for a positional field that this module analyses; None for any other field.

    The values are :class:`CompactPositions` encodings (a big-endian count, then native uint32 deltas,
    the first from 0), made for all terms at once; ``tests/store/test_analyzers.py`` checks them against
    ``CompactPositions.encode``.
    """
    items = getattr(field.analyzer, "items", None)
    if not items or type(items[0]) is not VietTokenizer or not isinstance(field.format, CompactPositions):
        return None
    tp = term_positions(value, isinstance(items[-1], FoldFilter), items[0].weights)
    counts = tp.counts
    return tp.utf8, counts, tp.weights, 4 * (counts + 1), pack_words(counts, tp.positions).tobytes()
