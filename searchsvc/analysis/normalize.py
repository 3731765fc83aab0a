"""Text normalisation that remembers where every character came from.

Analysis runs on NFC text with canonical tone placement, but offsets must point into the *original*
string (which may be NFD, as phones send it), so that snippets slice what the author wrote.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from unidecode import unidecode

from searchsvc.analysis.tones import place_tone

# A base character followed by its combining marks: the unit that NFC composes.
_CLUSTER = re.compile(r".[\u0300-\u036f]*", re.DOTALL)
# Invisible characters that split or glue words in scraped text without being seen.
# (A zero-width space is left alone: it separates words like any other non-word character.)
_INVISIBLE_CHARS = "\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS), None)


def normalize(text: str) -> tuple[str, list[int] | None]:
    """NFC text and, when it differs in length, a map from each normalised index to an original index.

    The map has one extra entry (the original length) so that an end offset maps too.
    ``None`` means the identity map: the common case, kept cheap.
    """
    if unicodedata.is_normalized("NFC", text) and not any(ch in text for ch in _INVISIBLE_CHARS):
        return text, None
    out: list[str] = []
    origin: list[int] = []
    for match in _CLUSTER.finditer(text):
        piece = unicodedata.normalize("NFC", match.group()).translate(_INVISIBLE)
        out.append(piece)
        origin.extend([match.start()] * len(piece))
    origin.append(len(text))
    normalized = "".join(out)
    if len(normalized) == len(text) and origin == list(range(len(text) + 1)):
        return normalized, None
    return normalized, origin


@lru_cache(maxsize=200_000)
def canonical(token: str) -> str:
    """The exact form of a token: lowercase, NFC, canonical tone placement."""
    lowered = unicodedata.normalize("NFC", token.lower())
    return place_tone(lowered) if not lowered.isascii() else lowered


@lru_cache(maxsize=200_000)
def fold(token: str) -> str:
    """The diacritic-insensitive form of a canonical token (``đ`` becomes ``d``)."""
    if token.isascii():
        return token
    # unidecode spells some scripts as several words ("北京" -> "Bei Jing "): keep one token.
    folded = "".join(unidecode(token).lower().split())
    return folded or token


def fold_text(text: str) -> str:
    """A whole string folded, for diacritic-insensitive keys such as tag names."""
    return " ".join(fold(canonical(t)) for t in text.split())
