"""Accents from the documents themselves: how the best matches of an unaccented query spell its syllables.

The bigram model (``restore.py``) sees pairs of syllables over the whole index, so on a short run it is
often unsure (``dau giai phong``: ``đầu`` 0.6, ``đâu`` 0.4) and then the exact-form weight goes to the
wrong reading, above the very article whose headline the reader typed. The documents that match the
folded query best settle it: where one of them holds several of the query's syllables side by side (in
the order typed, accents typed agreeing), its own spelling of them is a vote for that reading. A vote
counts by the share of the run's joins the document holds there, so a headline holding the whole run
outvotes one that holds a part of it; fewer than MIN_STRETCH syllables side by side are no vote (every
article has ``đầu`` somewhere, and many a common pair).
"""

from __future__ import annotations

import re

from searchsvc.analysis import fold_text, syllable_spans
from searchsvc.query.restore import Syllable

# Syllables side by side for a vote (all of a shorter run). Pairs voted too at first: in a long question a
# pair (``đóng băng`` for ``dong bang``) is chance, and cost the XQuAD mix a query (0.8567 -> 0.8564);
# three side by side cost nothing there and gained headline MRR (0.748 -> 0.750).
MIN_STRETCH = 3  # (and never one alone)
Votes = dict[tuple[int, int], dict[str, float]]  # (run, syllable in it) → exact form → votes
_SEPARATORS = re.compile(r"[\W_]+")
Spans = tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...], tuple[int, ...]]  # analysis.syllable_spans


def _agrees(s: Syllable, exact: str, folded: str) -> bool:
    return s.folded == folded and (not s.accented or s.typed == exact)


def _joined(a_end: int, b_start: int) -> bool:
    """Adjacent as the bigram model counts them: one character apart at most (not across punctuation)."""
    return b_start - a_end in (0, 1)


def _stretch(run: list[Syllable], i: int, spans: Spans, j: int) -> int:
    """How many syllables of ``run`` from ``i`` the text holds side by side from its syllable ``j``."""
    exact, folded, starts, ends = spans
    n = 1
    while (i + n < len(run) and j + n < len(exact) and _agrees(run[i + n], exact[j + n], folded[j + n])
           and _joined(run[i + n - 1].end, run[i + n].start) and _joined(ends[j + n - 1], starts[j + n])):
        n += 1
    return n


def votes(runs: list[list[Syllable]], texts: list[str], folded_texts: list[str] | None = None) -> Votes:
    """Each unaccented syllable's forms as the texts spell them beside the query's other syllables.

    ``folded_texts``, when given, are the texts' ``fold_text``: the suggestion tables hold every headline's,
    and folding them again was half the cost of a vote."""
    out: Votes = {}
    pairs = {f"{a.folded} {b.folded}" for run in runs for a, b in zip(run, run[1:])}
    for t, text in enumerate(texts):
        # Most texts hold no pair of the query's syllables at all: one folded look says so without analysis
        # (a loose look: punctuation read as a space can only let more texts through).
        plain = " ".join(_SEPARATORS.split(fold_text(text) if folded_texts is None else folded_texts[t]))
        if not any(pair in plain for pair in pairs):
            continue
        spans = syllable_spans(text)
        exact, folded = spans[0], spans[1]
        at: dict[str, list[int]] = {}
        for j, f in enumerate(folded):
            at.setdefault(f, []).append(j)
        best: dict[tuple[int, int], tuple[int, str]] = {}  # one vote per text: its longest stretch
        for r, run in enumerate(runs):
            for i, s in enumerate(run):
                for j in at.get(s.folded, ()):
                    if not _agrees(s, exact[j], folded[j]):
                        continue
                    n = _stretch(run, i, spans, j)
                    for k in range(n if n >= max(2, min(MIN_STRETCH, len(run))) else 0):
                        if not run[i + k].accented and n > best.get((r, i + k), (0, ""))[0]:
                            best[(r, i + k)] = (n, exact[j + k])
        for (r, i), (n, form) in best.items():
            forms = out.setdefault((r, i), {})
            forms[form] = forms.get(form, 0.0) + (n - 1) / (len(runs[r]) - 1)
    return out
