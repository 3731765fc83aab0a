"""Canonical tone-mark placement, so that old-style ``hoà`` and new-style ``hòa`` are one token.

We canonicalise to the traditional placement (``hòa``, ``thúy``, ``khỏe``), which is what most of our
corpora use. Only strings shaped like a Vietnamese syllable are touched: foreign names keep their accents.
"""

from __future__ import annotations

import re
import unicodedata

# The five tone marks as combining characters (grave, acute, hook above, tilde, dot below).
TONE_MARKS = "\u0300\u0301\u0309\u0303\u0323"
_VOWELS = "aăâeêioôơuưy"
# Vowels that carry a quality mark: when present, the tone always sits on them.
_MARKED_VOWELS = "ăâêôơư"
_INITIALS = (
    "ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "qu", "th", "tr",
    "b", "c", "d", "đ", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "",
)
_FINALS = ("ng", "nh", "ch", "c", "m", "n", "p", "t", "")
_SHAPE = re.compile(
    "^(" + "|".join(i for i in _INITIALS if i) + ")?"
    "([" + _VOWELS + "]{1,3})"
    "(" + "|".join(f for f in _FINALS if f) + ")?$"
)


def _split_tone(syllable: str) -> tuple[str, str]:
    """Return the syllable without its tone mark, and the mark ('' when none)."""
    decomposed = unicodedata.normalize("NFD", syllable)
    tone = ""
    kept = []
    for ch in decomposed:
        if ch in TONE_MARKS:
            tone = ch
        else:
            kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept)), tone


def _tone_index(initial: str, vowels: str, final: str) -> int:
    """Index, within ``vowels``, of the vowel that carries the tone in traditional placement."""
    for i in range(len(vowels) - 1, -1, -1):
        if vowels[i] in _MARKED_VOWELS:
            return i
    if final:
        return len(vowels) - 1
    if len(vowels) == 3:
        return 1
    if len(vowels) == 2:
        return 0
    return 0


def place_tone(syllable: str) -> str:
    """Move the tone mark of a lowercase NFC syllable to its canonical vowel (no change if not Vietnamese)."""
    base, tone = _split_tone(syllable)
    if not tone:
        return syllable
    match = _SHAPE.match(base)
    if match is None:
        # "gì", "gìn": the i of a gi- initial is the only vowel.
        if base.startswith("gi") and _SHAPE.match("g" + base[1:]):
            match = _SHAPE.match("g" + base[1:])
            assert match is not None
            initial, vowels, final = "g", match.group(2), match.group(3) or ""
            target = 1 + _tone_index(initial, vowels, final)
            return unicodedata.normalize("NFC", base[: target + 1] + tone + base[target + 1 :])
        return syllable
    initial, vowels, final = match.group(1) or "", match.group(2), match.group(3) or ""
    target = len(initial) + _tone_index(initial, vowels, final)
    return unicodedata.normalize("NFC", base[: target + 1] + tone + base[target + 1 :])
