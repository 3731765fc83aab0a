"""Did-you-mean: unknown syllables replaced by the likeliest indexed spelling one edit away."""

from __future__ import annotations

from searchsvc.analysis import syllables
from searchsvc.model.vocabulary import Vocabulary
from searchsvc.query.parse import ParsedQuery
from searchsvc.query.restore import typed_syllable

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in _ALPHABET]
    inserts = [a + c + b for a, b in splits for c in _ALPHABET]
    return set(deletes + transposes + replaces + inserts)


def correct_syllable(folded: str, vocab: Vocabulary) -> str | None:
    """The most frequent indexed syllable one edit away from an unknown one."""
    if folded in vocab.fold_df or len(folded) < 3 or len(folded) > 20:
        return None
    best = max(((vocab.fold_df[c], c) for c in _edits1(folded) if c in vocab.fold_df), default=None)
    return best[1] if best else None


def correct(parsed: ParsedQuery, vocab: Vocabulary) -> str | None:
    """The query text with unknown syllables replaced by their likeliest spelling (None when all are known)."""
    changed = False
    parts: list[str] = []
    for group in parsed.groups:
        for clause in group:
            words = []
            for tok in syllables(clause.text):
                s = typed_syllable(tok, vocab)
                fix = None if s.accented and s.typed in vocab.exact_df else correct_syllable(s.folded, vocab)
                if fix is not None:
                    forms = vocab.syllables.get(fix)
                    words.append(forms[0][0] if forms else fix)
                    changed = True
                else:
                    words.append(s.typed)
            text = " ".join(words)
            parts.append(f'"{text}"' if clause.phrase else text)
    return " ".join(parts) if changed else None
