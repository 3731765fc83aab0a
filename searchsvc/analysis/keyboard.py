"""Telex and VNI leftovers: ``trer``/``tre3`` → ``trẻ``, ``ddaf`` → ``đà``, ``Noi65`` → ``nội``.

People type Vietnamese on keyboards without an input method and the keys stay in the text. We decode
a token only when it is not a word of the index (the caller checks), so English words survive.
"""

from __future__ import annotations

import re
import unicodedata

from searchsvc.analysis.tones import _SHAPE, place_tone

_TONES = {"s": "\u0301", "f": "\u0300", "r": "\u0309", "x": "\u0303", "j": "\u0323"}
_VNI_TONES = {"1": "\u0301", "2": "\u0300", "3": "\u0309", "4": "\u0303", "5": "\u0323"}
_TELEX_VOWELS = [("uow", "ươ"), ("aa", "â"), ("aw", "ă"), ("ee", "ê"), ("oo", "ô"), ("ow", "ơ"), ("uw", "ư"),
                 ("dd", "đ"), ("w", "ư")]
_VNI_MARKS = {"6": {"a": "â", "e": "ê", "o": "ô"}, "7": {"o": "ơ", "u": "ư"}, "8": {"a": "ă"}, "9": {"d": "đ"}}
_TELEX_TOKEN = re.compile(r"^[a-z]+$")
_VNI_TOKEN = re.compile(r"^[a-z]+[1-9]+[a-z]*[1-9]*$")


def _finish(base: str, tone: str) -> str | None:
    plain = base.replace("đ", "d")
    if not _SHAPE.match(base) and not _SHAPE.match(plain):
        return None
    if not tone:
        return base
    # Put the mark on any vowel, then let place_tone move it where it belongs.
    for i, ch in enumerate(base):
        if ch in "aăâeêioôơuưy":
            return place_tone(unicodedata.normalize("NFC", base[: i + 1] + tone + base[i + 1 :]))
    return None


def decode_telex(token: str) -> str | None:
    t = token.lower()
    if not _TELEX_TOKEN.match(t) or len(t) > 9:
        return None
    # The tone key usually ends the syllable ("vieetj"), but some type it before the final ("vieejt").
    for i in range(len(t) - 1, 0, -1):
        if t[i] in _TONES and any(v in t[:i] for v in "aeiouy"):
            found = _decode_telex(t[:i] + t[i + 1 :], _TONES[t[i]])
            if found:
                return found
    return _decode_telex(t, "")


def _decode_telex(t: str, tone: str) -> str | None:
    changed = bool(tone)
    for keys, letter in _TELEX_VOWELS:
        if keys in t:
            if keys == "w" and not re.search(r"(?<![aou])w", t):
                continue
            t = t.replace(keys, letter) if keys != "w" else re.sub(r"(?<![aou])w", letter, t)
            changed = True
    if "uơ" in t:
        t = t.replace("uơ", "ươ")
    if not changed:
        return None
    return _finish(t, tone)


def decode_vni(token: str) -> str | None:
    t = token.lower()
    if not _VNI_TOKEN.match(t) or len(t) > 12:
        return None
    tone = ""
    letters = ""
    for ch in t:
        if ch in _VNI_TONES:
            tone = _VNI_TONES[ch]
        elif ch in _VNI_MARKS:
            marks = _VNI_MARKS[ch]
            for i in range(len(letters) - 1, -1, -1):
                if letters[i] in marks:
                    letters = letters[:i] + marks[letters[i]] + letters[i + 1 :]
                    if ch == "7" and letters[i] == "ơ" and i > 0 and letters[i - 1] == "u":
                        letters = letters[: i - 1] + "ư" + letters[i:]
                    break
        else:
            letters += ch
    return _finish(letters, tone)


def decode_keys(token: str) -> list[str]:
    """Candidate Vietnamese syllables a keyboard leftover may stand for (VNI first: digits are unambiguous)."""
    out = []
    for decode in (decode_vni, decode_telex):
        cand = decode(token)
        if cand and cand != token.lower() and cand not in out:
            out.append(cand)
    return out
