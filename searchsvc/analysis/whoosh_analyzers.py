"""The analysis as Whoosh analyzers, so the schema names one analyzer per field.

``VietTokenizer() | ExactFilter()`` and ``VietTokenizer() | FoldFilter()`` give Whoosh the same tokens
that :func:`searchsvc.analysis.analyse` gives everyone else; the index fast path in ``schema.py`` uses
:func:`searchsvc.analysis.postings` and a test checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Filter, Token, Tokenizer

from searchsvc.analysis import analyse


class VietTokenizer(Tokenizer):  # type: ignore[misc]
    """Syllables and pyvi words with positions and original-text offsets; text is the exact form."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(self, value: str, positions: bool = False, chars: bool = False, keeporiginal: bool = False,
                 removestops: bool = True, start_pos: int = 0, start_char: int = 0, tokenize: bool = True,
                 mode: str = "", **kwargs: Any) -> Iterator[Token]:
        for tok in analyse(value):
            # A fresh Token per yield: Whoosh's shared mutable token is a trap (see STYLE.md).
            t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
            t.text = tok.text
            t.folded = tok.folded
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = value[tok.start:tok.end]
            if positions:
                t.pos = start_pos + tok.pos
            if chars:
                t.startchar = start_char + tok.start
                t.endchar = start_char + tok.end
            yield t


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


def exact_analyzer() -> Any:
    return VietTokenizer() | ExactFilter()


def fold_analyzer() -> Any:
    return VietTokenizer() | FoldFilter()
