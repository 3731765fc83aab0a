"""Joined spellings: ``hanoi``, ``bongda``, ``vietnam``, ``tphcm`` typed as one token.

Readers (and some writers) run syllables together. A token typed without diacritics is split into
indexed syllables when the index's own bigram table (``model.bigrams``) has the split as a common pair
run, far commoner than the token itself (Cốc Cốc's tokenizer treats "sticky" text the same way, from its
own n-gram counts). The split is an alternative, not a replacement: ``tphcm`` also occurs as written in
the news, so a document holding either the token or its syllables, in order, matches.
"""

from __future__ import annotations

import math
from dataclasses import replace

from searchsvc.analysis.keyboard import decode_keys
from searchsvc.model.vocabulary import Vocabulary
from searchsvc.query.restore import Syllable

MIN_TOKEN = 4  # characters: "hanoi" yes, "anh" is a syllable
MAX_TOKEN = 24
MAX_PARTS = 4
MIN_PART = 2  # single letters split anything ("hano" + "i")
FORMS = 4  # accented forms of each part whose pair counts are summed
# The split's weakest pair must occur this many times more often than the token as written (document
# frequency), and at least MIN_PAIRS times: "hanoi" (100 documents) against "hà nội" (17,041 pairs).
RATIO = 2.0
MIN_PAIRS = 5


def _pair(vocab: Vocabulary, a: str, b: str) -> float:
    assert vocab.bigrams is not None, "store.snapshot attaches the generation's bigram table"
    left = [f for f, _ in vocab.syllables.get(a, [])[:FORMS]]
    right = [f for f, _ in vocab.syllables.get(b, [])[:FORMS]]
    return float(vocab.bigrams.pair_counts(left, right).sum()) if left and right else 0.0


def split(token: str, vocab: Vocabulary) -> list[str] | None:
    """The likeliest split of an unaccented, letters-only token into 2..MAX_PARTS indexed syllables, when
    the index says it is one; else None. Scored by the weakest pair, then by the product of pair counts."""
    if not (MIN_TOKEN <= len(token) <= MAX_TOKEN) or not token.isascii() or not token.isalpha():
        return None
    if vocab.bigrams is None:
        return None
    n = len(token)
    known = {(i, j): token[i:j] for i in range(n) for j in range(i + MIN_PART, n + 1)
             if j - i < n and token[i:j] in vocab.syllables}
    pairs: dict[tuple[str, str], float] = {}

    def pair(a: str, b: str) -> float:
        if (a, b) not in pairs:
            pairs[(a, b)] = _pair(vocab, a, b)
        return pairs[(a, b)]

    best: tuple[float, float, list[str]] | None = None
    # Depth-first over splits: at most MAX_PARTS parts, each an indexed syllable; a handful of paths.
    stack: list[tuple[int, list[str], float, float]] = [(0, [], math.inf, 0.0)]
    while stack:
        at, parts, weakest, logs = stack.pop()
        if at == n:
            if len(parts) > 1 and (best is None or (weakest, logs) > (best[0], best[1])):
                best = (weakest, logs, parts)
            continue
        if len(parts) == MAX_PARTS:
            continue
        for j in range(at + MIN_PART, n + 1):
            part = known.get((at, j))
            if part is None:
                continue
            count = pair(parts[-1], part) if parts else math.inf
            if count <= 0:
                continue
            stack.append((j, [*parts, part], min(weakest, count),
                          logs + (math.log(count) if parts else 0.0)))
    if best is None:
        return None
    weakest, _, parts = best
    if weakest < max(MIN_PAIRS, RATIO * vocab.fold_df.get(token, 0)):
        return None
    return parts


def expand(run: list[Syllable], vocab: Vocabulary) -> list[tuple[Syllable, list[Syllable]]]:
    """Each query syllable with the syllables it splits into (``[]`` when it stays whole). Parts sit at
    the token's offsets, one after another with no gap, so restoration reads them as adjacent."""
    out: list[tuple[Syllable, list[Syllable]]] = []
    for s in run:
        # A Telex leftover is read as one syllable ("Coong" is "Công", not "co ong").
        telex = any(c in vocab.exact_df for c in decode_keys(s.typed))
        parts = None if s.accented or telex else split(s.folded, vocab)
        if not parts:
            out.append((s, []))
            continue
        pieces, at = [], s.start
        for p in parts:
            pieces.append(replace(s, typed=p, folded=p, accented=False, start=at, end=at + len(p), candidates=[]))
            at += len(p)
        out.append((s, pieces))
    return out
