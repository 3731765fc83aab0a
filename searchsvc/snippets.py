"""Highlighting that slices the original text, so users see their own diacritics and case.

A query syllable typed with accents marks only that exact form (``cộng`` never marks ``công``); one
typed without accents marks every accented form of it. Text is HTML-escaped, matches wrapped in
``<mark>``; the snippet is the window of lead or body with the most distinct matched syllables.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from html import escape

from searchsvc.analysis import syllable_spans

WINDOW = 32  # syllables in a snippet
SCAN_CHARS = 6000  # how far into a text the best fragment is looked for: highlighting cost stays bounded


@dataclass(frozen=True)
class Marker:
    """Which tokens count as matches: exact forms, and folded forms typed without accents."""

    exact: frozenset[str]
    folded: frozenset[str]

    def matches(self, exact: str, folded: str) -> bool:
        return exact in self.exact or folded in self.folded

    def __bool__(self) -> bool:
        return bool(self.exact or self.folded)


def _matches(text: str, marker: Marker) -> tuple[list[int], tuple[int, ...], tuple[int, ...], tuple[str, ...]]:
    exact, folded, starts, ends = syllable_spans(text)
    hits = [i for i in range(len(exact)) if marker.matches(exact[i], folded[i])] if marker else []
    return hits, starts, ends, folded


def _render(text: str, hits: list[int], starts: tuple[int, ...], ends: tuple[int, ...], start: int, end: int) -> str:
    out: list[str] = []
    cursor = start
    for i in hits:
        if starts[i] < start or ends[i] > end:
            continue
        out.append(escape(text[cursor : starts[i]]))
        out.append("<mark>" + escape(text[starts[i] : ends[i]]) + "</mark>")
        cursor = ends[i]
    out.append(escape(text[cursor:end]))
    return "".join(out)


def highlight_all(text: str, marker: Marker) -> str:
    """The whole text (a title), escaped, with matches marked."""
    if not marker:
        return escape(text)
    hits, starts, ends, _ = _matches(text, marker)
    return _render(text, hits, starts, ends, 0, len(text))


def best_fragment(texts: list[str], marker: Marker, window: int = WINDOW) -> str:
    """The best window of lead or body (most distinct matched syllables; the lead wins ties), escaped."""
    best: tuple[int, int, int] | None = None  # (distinct matches, -text index, first syllable)
    found: dict[int, tuple[list[int], tuple[int, ...], tuple[int, ...], tuple[str, ...]]] = {}
    lengths = [len(t) for t in texts]
    texts = [t if len(t) <= SCAN_CHARS else t[: t.rfind(" ", 0, SCAN_CHARS) + 1 or SCAN_CHARS] for t in texts]
    for index, text in enumerate(texts):
        if not text:
            continue
        found[index] = m = _matches(text, marker)
        hits, starts, _, folded = m
        if not starts:
            continue
        if not hits:
            if best is None:
                best = (0, -index, 0)
            continue
        for k, h in enumerate(hits):
            first = max(0, h - 4)
            score = len({folded[j] for j in hits[k : bisect_left(hits, first + window, k)]})
            if best is None or (score, -index) > best[:2]:
                best = (score, -index, first)
    if best is None:
        return ""
    _, neg_index, first = best
    text = texts[-neg_index]
    hits, starts, ends, _ = found[-neg_index]
    last = min(len(starts), first + window) - 1
    start = 0 if first == 0 else starts[first]
    end = len(text) if last == len(starts) - 1 else ends[last]
    body = _render(text, hits, starts, ends, start, end)
    return ("… " if start > 0 else "") + body + (" …" if end < lengths[-neg_index] else "")
