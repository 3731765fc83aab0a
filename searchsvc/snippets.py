"""Highlighting that slices the original text, so users see their own diacritics and case.

A query syllable typed with accents marks only that exact form (``cộng`` never marks ``công``); one
typed without accents marks every accented form of it. Text is HTML-escaped, matches wrapped in
``<mark>``; the snippet is the window of lead or body with the most distinct matched syllables.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from searchsvc.analysis import Token, syllables

WINDOW = 32  # syllables in a snippet


@dataclass(frozen=True)
class Marker:
    """Which tokens count as matches: exact forms, and folded forms typed without accents."""

    exact: frozenset[str]
    folded: frozenset[str]

    def matches(self, tok: Token) -> bool:
        return tok.text in self.exact or tok.folded in self.folded

    def __bool__(self) -> bool:
        return bool(self.exact or self.folded)


def _render(text: str, tokens: list[Token], start: int, end: int, marker: Marker) -> str:
    out: list[str] = []
    cursor = start
    for tok in tokens:
        if tok.start < start or tok.end > end or not marker.matches(tok):
            continue
        out.append(escape(text[cursor : tok.start]))
        out.append("<mark>" + escape(text[tok.start : tok.end]) + "</mark>")
        cursor = tok.end
    out.append(escape(text[cursor:end]))
    return "".join(out)


def highlight_all(text: str, marker: Marker) -> str:
    """The whole text (a title), escaped, with matches marked."""
    if not marker:
        return escape(text)
    return _render(text, syllables(text), 0, len(text), marker)


def best_fragment(texts: list[str], marker: Marker, window: int = WINDOW) -> str:
    """The best window of the first text that has matches (lead, then body), escaped and marked."""
    best: tuple[int, int, str, list[Token], int] | None = None  # (score, -index, text, tokens, first token)
    for index, text in enumerate(texts):
        if not text:
            continue
        toks = syllables(text)
        hits = [i for i, t in enumerate(toks) if marker and marker.matches(t)]
        if not hits:
            if best is None and toks:
                best = (0, -index, text, toks, 0)
            continue
        for h in hits:
            first = max(0, h - 4)
            score = len({toks[j].folded for j in hits if first <= j < first + window})
            cand = (score, -index, text, toks, first)
            if best is None or cand[:2] > best[:2]:
                best = cand
    if best is None:
        return ""
    _, _, text, toks, first = best
    last = min(len(toks), first + window) - 1
    start = 0 if first == 0 else toks[first].start
    end = len(text) if last == len(toks) - 1 else toks[last].end
    body = _render(text, toks, start, end, marker)
    return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")
