"""Did-you-mean: unknown or rare syllables replaced by the likeliest indexed spelling one edit away, in
the reader's own case (``Ronaldoo`` → ``Ronaldo``)."""

from __future__ import annotations

from dataclasses import replace

from searchsvc.analysis import syllables
from searchsvc.model.vocabulary import Vocabulary
from searchsvc.query.parse import ParsedQuery
from searchsvc.query.restore import Syllable, restore, typed_syllable

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# A syllable this rare (documents) is a typo when a spelling one edit away is RARE_RATIO times commoner:
# news archives hold their own typos ("daa" in 2 of 35,000 baomoi articles; "da" in 32,000).
RARE_DF = 3
RARE_RATIO = 100


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in _ALPHABET]
    inserts = [a + c + b for a, b in splits for c in _ALPHABET]
    return set(deletes + transposes + replaces + inserts)


def correct_syllable(folded: str, vocab: Vocabulary) -> str | None:
    """The most frequent indexed syllable one edit away from an unknown or very rare one."""
    df = vocab.fold_df.get(folded, 0)
    if df > RARE_DF or len(folded) < 3 or len(folded) > 20:
        return None
    best = max(((vocab.fold_df[c], c) for c in _edits1(folded) if c in vocab.fold_df), default=None)
    if best is None or (df and best[0] < RARE_RATIO * df):
        return None
    return best[1]


def in_case_of(text: str, raw: str) -> str:
    """``text`` in the case the reader typed ``raw``: all capitals, a capital first, or as it is."""
    if len(raw) > 1 and raw.isupper():
        return text.upper()
    if raw[:1].isupper():
        return text[:1].upper() + text[1:]
    return text


def correct(parsed: ParsedQuery, vocab: Vocabulary) -> str | None:
    """The query text with unknown (or very rare) syllables replaced by their likeliest spelling, the rest as
    the reader typed it. A correction of a syllable typed without accents stays without them (the search
    restores them, and says so); one typed with accents takes the accents its neighbours make likeliest.
    None when nothing needs correcting."""
    changed = False
    parts: list[str] = []
    for group in parsed.groups:
        for clause in group:
            run: list[Syllable] = []
            raws: list[str] = []
            fixed: list[bool] = []
            accented: list[bool] = []  # typed with accents: a correction takes accents too
            for tok in syllables(clause.text):
                raws.append(clause.text[tok.start:tok.end])
                s = typed_syllable(tok, vocab, raw=raws[-1])
                fix = None if s.accented and s.typed in vocab.exact_df else correct_syllable(s.folded, vocab)
                fixed.append(fix is not None)
                accented.append(s.accented)
                # A correction is read as unaccented, for restoration to choose its accents.
                run.append(s if fix is None else replace(s, typed=fix, folded=fix, accented=False))
            if any(fixed):
                changed = True
                _accent_fixes(run, fixed, vocab)
            words = [in_case_of(s.candidates[0][0] if accents and s.candidates else s.typed, raw) if fix else raw
                     for s, raw, fix, accents in zip(run, raws, fixed, accented)]
            text = " ".join(words)
            parts.append(f'"{text}"' if clause.phrase else text)
    return " ".join(parts) if changed else None


def _accent_fixes(run: list[Syllable], fixed: list[bool], vocab: Vocabulary) -> None:
    if vocab.bigrams is not None:
        restore(run, vocab)
        return
    for s, fix in zip(run, fixed):  # no context model: each correction's commonest accented form
        s.candidates = [(f, float(df)) for f, df in vocab.syllables.get(s.folded, [])[:1]] if fix else []
