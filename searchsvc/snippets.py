"""Highlighting that slices the original text, so users see their own diacritics and case.

A query syllable typed with accents marks only that exact form (``cộng`` never marks ``công``); one
typed without accents marks every accented form of it. Text is HTML-escaped, matches wrapped in
``<mark>``; the snippet is the window of lead or body with the most distinct matched syllables.

Analysing every syllable of ten bodies per query in Python cost a third of query time, so ordinary text
(NFC, letters of the Vietnamese alphabet) takes a fast path. Its *skeleton*, folded character for
character in one table lookup (``Trẻ em, 498.000đ`` → ``tre em, 498.000d``), keeps every offset; a regex
per query syllable finds, in C, the places in the skeleton where a marked syllable could start; only
those are checked against the real rule, and only what the window needs is split into syllables. Other
text takes the full analysis. Both paths mark the same syllables and choose the same window.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from functools import cached_property, lru_cache
from html import escape
from itertools import islice

import numpy as np

from searchsvc.analysis import canonical, fold, normalize, syllable_spans

WINDOW = 32  # syllables in a snippet
SCAN_CHARS = 6000  # how far into a text the best fragment is looked for: highlighting cost stays bounded
LEAD_IN = 4  # syllables shown before the first match of a snippet


@dataclass(frozen=True)
class Marker:
    """Which tokens count as matches: exact forms, and folded forms typed without accents."""

    exact: frozenset[str]
    folded: frozenset[str]

    def matches(self, exact: str, folded: str) -> bool:
        return exact in self.exact or folded in self.folded

    @cached_property
    def forms(self) -> frozenset[str]:
        """The folded forms a marked syllable can have: the folded ones, and the folds of the exact ones."""
        return frozenset({fold(e) for e in self.exact} | self.folded)

    def __bool__(self) -> bool:
        return bool(self.exact or self.folded)


# -- skeletons ----------------------------------------------------------------------------------------

_SEPARATORS = ".,/:"  # inside numbers (498.000, 30/11/2018): the separators of analysis.SYLLABLE
_OTHER = b"\x00"  # in a skeleton: a character only the full analysis handles
# analysis.SYLLABLE for skeletons, where every letter or digit is ASCII: the same syllables, found faster.
_SYLLABLE = re.compile(r"[0-9]+(?:[.,/:][0-9]+)+|[a-z0-9]+")
# The same matches, each found as an empty group: findall then builds no substrings (half the time).
_COUNT_SYLLABLES = re.compile(f"(?:{_SYLLABLE.pattern})()")


def _skeleton_table() -> np.ndarray:
    """Code point → skeleton byte, for code points below U+3000 (the rest are _OTHER).

    A letter of the alphabet becomes its folded letter; an ASCII digit or number separator stays; any
    other letter or digit, and any combining mark (SYLLABLE keeps those inside syllables), is _OTHER;
    everything else separates syllables and becomes a space. A letter joins the alphabet only if it folds
    to one ASCII letter on its own, so the skeleton of a syllable is its folded form.
    """
    table = bytearray(b" " * 0x3000)
    tones = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
    letters = set("bcdđfghjklmnpqrstvwxz")
    letters |= {unicodedata.normalize("NFC", v + t) for v in "aăâeêioôơuưy" for t in tones}
    for code in range(0x80, 0x3000):
        if chr(code).isalnum() or 0x300 <= code <= 0x36F:
            table[code] = _OTHER[0]
    for c in letters | {c.upper() for c in letters}:
        folded = fold(canonical(c))
        if len(c) == 1 and len(folded) == 1 and "a" <= folded <= "z":
            table[ord(c)] = ord(folded)
    for c in "0123456789" + _SEPARATORS:
        table[ord(c)] = ord(c)
    return np.frombuffer(bytes(table + _OTHER), dtype=np.uint8)  # the last entry catches U+3000 and up


_TABLE = _skeleton_table()


def _skeleton(text: str) -> str | None:
    """``text`` folded character for character to ``[a-z0-9 .,/:]``; None if it needs the full analysis."""
    if normalize(text)[0] is not text:
        return None  # not NFC, or invisible characters: offsets need the normalisation map
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    skeleton = _TABLE.take(codes, mode="clip").tobytes()
    return None if _OTHER in skeleton else skeleton.decode("ascii")


@lru_cache(maxsize=256)
def _candidates(marker: Marker) -> tuple[re.Pattern[str], ...]:
    """Regexes matching in a skeleton wherever a syllable the marker marks starts, and at some other places.

    A marked syllable's skeleton is a folded form of the marker or the fold of an exact one: one regex
    per form, led by the form itself so that the search runs in C. A syllable never starts right after
    a letter; a number never ends before a digit, a word before a letter or digit. A number can start
    inside an earlier match of itself (``1.1`` in ``a11.1.1`` first matches from the second ``1``, across
    the start of the syllable ``1.1``), so its regex takes one character per match and skips no start.
    """
    patterns = []
    for form in sorted(marker.forms):
        if not re.fullmatch(r"[a-z0-9][a-z0-9.,/:]*", form):
            continue  # no syllable of a skeleton looks like this
        if re.search("[.,/:]", form):
            lead = form[0]
            patterns.append(re.compile(f"{lead}(?<![a-z]{lead})(?={re.escape(form[1:])}(?![0-9]))"))
        else:
            patterns.append(re.compile(f"{form}(?<![a-z]{form})(?![a-z0-9])"))
    return tuple(patterns)


# -- the matched syllables of one text ----------------------------------------------------------------


@dataclass
class _Found:
    """The matched syllables of one text: offsets into it, folded forms, syllable numbers.

    ``spans`` holds every syllable's (starts, ends) when the text took the full analysis; on the fast
    path ``skeleton`` is set and the numbers are counted when asked for (see _numbered).
    """

    starts: list[int]
    ends: list[int]
    folded: list[str]
    skeleton: str | None
    spans: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    numbers: list[int] | None = None


class _Syllables:
    """Walks the syllables of a skeleton forwards, restarting close to each place asked about."""

    def __init__(self, skeleton: str) -> None:
        self.skeleton = skeleton
        self.resume = 0  # where a tokenizer run over the whole text would look for its next syllable
        self.last: re.Match[str] | None = None

    def at(self, start: int) -> re.Match[str] | None:
        """The syllable that starts at ``start``, if one does: not ``000`` inside ``498.000``."""
        if start < self.resume:
            return self.last if self.last is not None and self.last.start() == start else None
        # After a space no syllable is cut, so the tokenizer can start there: usually right here.
        back = max(self.resume, self.skeleton.rfind(" ", self.resume, start) + 1)
        if back == start:
            m = _SYLLABLE.match(self.skeleton, start)
            if m is not None:
                self.resume, self.last = m.end(), m
            return m
        for m in _SYLLABLE.finditer(self.skeleton, back):
            self.resume, self.last = m.end(), m
            if m.start() >= start:
                return m if m.start() == start else None
        self.resume = len(self.skeleton)
        return None


def _count(skeleton: str, start: int, end: int, cap: int) -> int:
    """Syllables starting in ``skeleton[start:end]``, counted up to ``cap`` (neither end inside one)."""
    n = 0
    while start < end and n < cap:
        # A stretch long enough for ``cap`` syllables of ordinary text, cut after a space.
        stop = end if end - start <= 8 * cap else skeleton.rfind(" ", start, start + 8 * cap) + 1 or end
        n += len(_COUNT_SYLLABLES.findall(skeleton, start, stop))
        start = stop
    return min(n, cap)


def _find_fast(text: str, skeleton: str, marker: Marker) -> _Found:
    found = _Found([], [], [], skeleton)
    syllables = _Syllables(skeleton)
    for candidate in sorted({m.start() for p in _candidates(marker) for m in p.finditer(skeleton)}):
        m = syllables.at(candidate)
        if m is None:
            continue
        start, end = m.span()
        exact = canonical(text[start:end])
        folded = fold(exact)
        if marker.matches(exact, folded):
            found.starts.append(start)
            found.ends.append(end)
            found.folded.append(folded)
    return found


def _find(text: str, marker: Marker) -> _Found:
    skeleton = _skeleton(text)
    if skeleton is not None:
        return _find_fast(text, skeleton, marker)
    exact, folded, starts, ends = syllable_spans(text)
    hits = [i for i in range(len(exact)) if marker.matches(exact[i], folded[i])] if marker else []
    return _Found([starts[i] for i in hits], [ends[i] for i in hits], [folded[i] for i in hits], None,
                  (starts, ends), hits)


def _numbered(found: _Found, hits: int, cap: int) -> list[int]:
    """Syllable numbers of (at least) the first ``hits`` matches, counted on from those already known.

    On the fast path they count at most ``cap`` syllables between two matches (and before the first):
    enough to compare every distance a window spans, without splitting far-apart text. The same ``cap``
    for every call on one text.
    """
    if found.skeleton is None:
        assert found.numbers is not None
        return found.numbers  # the full analysis numbered every match
    if found.numbers is None:
        found.numbers = []
    numbers = found.numbers
    while len(numbers) < min(hits, len(found.starts)):
        i = len(numbers)
        previous, n = (found.starts[i - 1], numbers[-1]) if i else (0, 0)
        numbers.append(n + _count(found.skeleton, previous, found.starts[i], cap))
    return numbers


# -- windows and rendering ----------------------------------------------------------------------------


def _start_before(skeleton: str, pos: int, n: int) -> int:
    """Where the ``n``-th syllable before ``pos`` (a syllable start) starts."""
    reach = 16 * n
    while True:
        begin = skeleton.rfind(" ", 0, pos - reach) + 1 if pos > reach else 0
        starts = [m.start() for m in _SYLLABLE.finditer(skeleton, begin, pos)]
        if len(starts) >= n or begin == 0:
            return starts[-n] if len(starts) >= n else 0
        reach *= 4


def _bounds(text: str, found: _Found, hit: int | None, first: int, window: int) -> tuple[int, int]:
    """Character offsets of the ``window`` syllables from syllable number ``first``: from the text's
    start when ``first`` is 0, to its end when they include the last syllable.

    ``hit`` is the match the window was chosen for: the fast path counts back from it.
    """
    if found.skeleton is None:
        assert found.spans is not None
        starts, ends = found.spans
        last = min(len(starts), first + window) - 1
        return (0 if first == 0 else starts[first]), (len(text) if last == len(starts) - 1 else ends[last])
    start = 0
    if first > 0:
        assert hit is not None and found.numbers is not None
        start = _start_before(found.skeleton, found.starts[hit], found.numbers[hit] - first)
    following = list(islice(_SYLLABLE.finditer(found.skeleton, start), window + 1))
    return start, (following[window - 1].end() if len(following) > window else len(text))


def _render(text: str, found: _Found, start: int, end: int) -> str:
    out: list[str] = []
    cursor = start
    for s, e in zip(found.starts, found.ends):
        if s < start or e > end:
            continue
        out.append(escape(text[cursor:s]))
        out.append("<mark>" + escape(text[s:e]) + "</mark>")
        cursor = e
    out.append(escape(text[cursor:end]))
    return "".join(out)


def highlight_all(text: str, marker: Marker) -> str:
    """The whole text (a title), escaped, with matches marked."""
    if not marker:
        return escape(text)
    return _render(text, _find(text, marker), 0, len(text))


def _has_syllables(found: _Found) -> bool:
    if found.skeleton is None:
        return bool(found.spans and found.spans[0])
    return _SYLLABLE.search(found.skeleton) is not None


def best_fragment(texts: list[str], marker: Marker, window: int = WINDOW) -> str:
    """The best window of lead or body (most distinct matched syllables; the lead wins ties), escaped."""
    best: tuple[int, int, int, int | None] | None = None  # (distinct matches, -text index, first, hit)
    found: dict[int, _Found] = {}
    window = max(window, 1)  # a snippet holds at least one syllable
    lengths = [len(t) for t in texts]
    texts = [t if len(t) <= SCAN_CHARS else t[: t.rfind(" ", 0, SCAN_CHARS) + 1 or SCAN_CHARS] for t in texts]
    # A later text wins only with more distinct matches than the best so far: none can hold more than
    # the marker's forms, nor more than its own (``distinct``), so such texts are not searched or numbered.
    forms = len(marker.forms)
    for index, text in enumerate(texts):
        if not text or (best is not None and best[0] >= forms):
            continue
        found[index] = f = _find(text, marker)
        if not f.starts:
            if best is None and _has_syllables(f):
                best = (0, -index, 0, None)
            continue
        distinct = len(set(f.folded))
        if best is not None and best[0] >= distinct:
            continue
        if distinct == 1 and window > LEAD_IN:
            # Every window around a match holds that one form: the first match wins, and only
            # whether it lies within LEAD_IN syllables of the start matters.
            best = (1, -index, max(0, _numbered(f, 1, LEAD_IN + 1)[0] - LEAD_IN), 0)
            continue
        cap = max(window, LEAD_IN + 1)
        for k in range(len(f.starts)):
            numbers = _numbered(f, k + 1, cap)
            first = max(0, numbers[k] - LEAD_IN)
            while len(numbers) < len(f.starts) and numbers[-1] < first + window:  # the window's matches
                numbers = _numbered(f, len(numbers) + 1, cap)
            score = len(set(f.folded[k : bisect_left(numbers, first + window, k)]))
            if best is None or (score, -index) > best[:2]:
                best = (score, -index, first, k)
            if score == distinct:
                break  # the first window holding every form of this text: no later one beats it
    if best is None:
        return ""
    _, neg_index, first, hit = best
    text, f = texts[-neg_index], found[-neg_index]
    start, end = _bounds(text, f, hit, first, window)
    body = _render(text, f, start, end)
    return ("… " if start > 0 else "") + body + (" …" if end < lengths[-neg_index] else "")
