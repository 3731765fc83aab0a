"""Query completions as a reader types: the likeliest continuations, from the index's own words.

The candidates are the vocabulary's pyvi words (``trẻ_em``, ``bóng_đá``) and syllables with their document
frequencies, looked up by folded prefix in one sorted table, so ``tre`` → ``trẻ em`` and ``bong d`` →
``bóng đá`` whatever accents were left out. Accents that were typed must match. What was typed before the
last few syllables is kept, accent-restored as a search would read it. Shown in the index's own case: the
commonest spelling of each word inside headlines (``Hà Nội``, ``Ronaldo``, ``trẻ em``).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np

from searchsvc.analysis import WORD_JOINER, fold_text
from searchsvc.model.vocabulary import Vocabulary
from searchsvc.query.plan import STOPWORDS
from searchsvc.query.restore import Syllable, query_syllables, restore

CONTEXT = 3  # the last syllables typed that a completion may continue (pyvi words have 2-4)
FORMS = 3  # accented forms of each folded word considered
COMMON_SHARE = 0.2
TITLE_CASE = 0.7  # a headline with this share of its words capitalised is in Title Case
CAPITAL_RATIO = 2  # a word is shown capitalised when headlines write it so this many times more often
_WORD = re.compile(r"\w+")


def _case_map(titles: Iterable[str]) -> dict[str, str]:
    """Lowercase word → its spelling in headlines when that is mostly not lowercase (``Nội``, ``FC``).
    A headline's first word counts half (it is capitalised anyway); headlines in capitals or Title Case
    say nothing about case."""
    seen: dict[str, Counter[str]] = defaultdict(Counter)  # counts in halves: a first word counts 1
    for title in titles:
        words = _WORD.findall(title)
        rest = words[1:]
        if (len(rest) >= 4 and sum(w[:1].isupper() for w in rest) > TITLE_CASE * len(rest)) or title.isupper():
            continue
        for i, word in enumerate(words):
            seen[word.lower()][word] += 2 if i else 1
    out = {}
    for low, forms in seen.items():
        (top, count), = forms.most_common(1)
        if top != low and count >= CAPITAL_RATIO * forms.get(low, 0):
            out[low] = top
    return out


class Completions:
    """Built once per snapshot from its vocabulary and headlines."""

    def __init__(self, vocab: Vocabulary, titles: Iterable[str]) -> None:
        self.vocab = vocab
        rows: list[tuple[str, str, int]] = []  # folded key, form, document frequency
        for table in (vocab.words, vocab.syllables):
            for key, forms in table.items():
                if len(key) < 2 or key.isdigit():
                    continue
                for form, df in forms[:FORMS]:
                    rows.append((key.replace(WORD_JOINER, " "), form.replace(WORD_JOINER, " "), df))
        rows.sort()
        self.keys = [r[0] for r in rows]
        self.forms = [r[1] for r in rows]
        self.df = np.array([r[2] for r in rows], dtype=np.float64)
        self.firsts = [r[1].split(" ", 1)[0] for r in rows]
        self.multi = np.array([" " in r[0] for r in rows], dtype=bool)
        # Function words are no completion: the listed ones, and single syllables in most articles ("trên").
        common = COMMON_SHARE * max(1, vocab.doc_count)
        self.stop = np.array([r[1] in STOPWORDS or (" " not in r[0] and r[2] > common) for r in rows], dtype=bool)
        self.case = _case_map(titles)

    def cased(self, text: str) -> str:
        """A phrase in the index's case: a name when headlines capitalise all of it (``Việt Nam``), else
        lowercase but for abbreviations (``HLV``, ``U23``): one capital word in "xác Định" is noise."""
        words = text.split(" ")
        shown = [self.case.get(w, w) for w in words]
        if all(c[:1].isupper() or not c[:1].isalpha() for c in shown):
            return " ".join(shown)
        return " ".join(c if c.isupper() else w for w, c in zip(words, shown))

    def _extensions(self, typed: list[Syllable], partial: bool, after: str | None, limit: int) -> list[str]:
        """Forms whose folded key strictly extends the typed syllables (the last one a prefix when
        ``partial``), consistent with the accents typed. Commonest first; after the syllable ``after``, by how
        often they follow it in the index (the bigram table), and only forms that ever do."""
        prefix = " ".join(s.folded for s in typed) + ("" if partial else " ")
        lo = bisect_left(self.keys, prefix)
        hi = bisect_left(self.keys, prefix + "\uffff")
        # Phrases say more than single syllables, and a function word is no completion.
        weight = self.df[lo:hi] * np.where(self.multi[lo:hi], 2, 1) * ~self.stop[lo:hi]
        if after is not None and self.vocab.bigrams is not None:
            firsts = self.firsts[lo:hi]
            weight = weight * (self.vocab.bigrams.pair_counts([after], firsts)[0] if firsts else 0)
        out: list[str] = []
        for i in (lo + np.argsort(-weight, kind="stable")).tolist():
            form, key = self.forms[i], self.keys[i]
            if weight[i - lo] <= 0:
                break
            # What was typed, only accent-restored, is offered when it is a phrase ("ha noi" → "Hà Nội").
            same = key == prefix.rstrip()
            if (same and (" " not in key or form == " ".join(s.typed for s in typed))) or \
                    not _agrees(typed, form.split(" "), partial):
                continue
            if form not in out:
                out.append(form)
            if len(out) == limit:
                break
        return out

    def _straddles(self, before: Syllable, first: str) -> bool:
        return WORD_JOINER.join((before.folded, fold_text(first))) in self.vocab.words

    def complete(self, text: str, limit: int) -> list[str]:
        """Up to ``limit`` completions of ``text``, in the index's case. A word being typed may complete the
        syllables before it (``bong d`` → ``bóng đá``) or follow them (``gia vang h`` → ``giá vàng hôm nay``);
        after a space, only words that continue everything typed (up to CONTEXT syllables) are offered."""
        run = query_syllables(text, self.vocab)
        if not run or limit <= 0:
            return []
        partial = not text[-1:].isspace()
        out: list[str] = []
        for k in range(min(CONTEXT, len(run)), 0 if partial else len(run) - 1, -1):
            head, tail = run[:-k], run[-k:]
            lead = _reading(head, self.vocab)
            after = lead.rsplit(" ", 1)[-1] if head else None
            for form in self._extensions(tail, partial, after, limit - len(out)):
                if head and len(form.split(" ")) > k and self._straddles(head[-1], form.split(" ")[0]):
                    continue  # "ha n" + "nội dung": "hà nội" is a word, "nội dung" continues the wrong one
                shown = f"{self.cased(lead)} {self.cased(form)}".strip()
                if shown not in out:
                    out.append(shown)
            if len(out) >= limit:
                break
        return out[:limit]


def _agrees(typed: list[Syllable], parts: list[str], partial: bool) -> bool:
    """The form keeps every accent typed (the last syllable, if partial, as a prefix)."""
    for i, s in enumerate(typed):
        if not s.accented:
            continue
        if i >= len(parts):
            return False
        last = partial and i == len(typed) - 1
        if not (parts[i].startswith(s.typed) if last else parts[i] == s.typed):
            return False
    return True


def _reading(run: list[Syllable], vocab: Vocabulary) -> str:
    """The syllables as a search reads them: accents restored where they were left out."""
    if not run:
        return ""
    if vocab.bigrams is not None:
        restore(run, vocab)
    return " ".join(s.typed if s.accented or not s.candidates else s.candidates[0][0] for s in run)

