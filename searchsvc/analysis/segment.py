"""pyvi word segmentation, with character offsets.

``ViTokenizer.tokenize`` returns a re-spaced string and no offsets. We run pyvi's own syllabifier
regex with ``finditer`` (so every pyvi token keeps its span), score pyvi's CRF features ourselves and
apply pyvi's own joining rules. The result is exactly pyvi's segmentation, with spans, several times
faster than pyvi itself.

Why our own scoring: pyvi spends most of its time building a dict of 15 features per token and
handing it to crfsuite, which turns every feature back into a string and looks it up in the model.
The model is small (two labels, ~6,000 attributes), so we read its weights from the model file once
(:class:`_Crf`) and sum them per token with numpy, *in crfsuite's order*: floating-point addition is
not associative, and the same additions in the same order give bit-identical scores, hence the same
Viterbi path. ``tests/analysis/test_segment.py`` checks the output against ``pyvi.ViTokenizer.tokenize``.
"""

from __future__ import annotations

import re
import string
import struct
from pathlib import Path

import numpy as np
from pyvi.ViTokenizer import ViTokenizer

# pyvi's sylabelize() pattern, verbatim, so the tokens are the ones its CRF model was trained on.
_PYVI_TOKEN = re.compile(
    "("
    + "|".join(
        [
            r"[A-ZĐ]+\.", r"Tp\.", r"Mr\.", r"Mrs\.", r"Ms\.", r"Dr\.", r"ThS\.",
            "==>", "->", r"\.\.\.", ">>", "\n",
            r"\w+://[^\s]+",
            r"([a-zA-Z0-9_.+-]+@([a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+)",
            r"\d+([\.,_]\d+)+", r"[^\w\s]", r"\w+",
        ]
    )
    + ")",
    re.UNICODE,
)
_PUNCTUATION = frozenset(string.punctuation)
_BIGRAMS: set[str] = ViTokenizer.bi_grams
_TRIGRAMS: set[str] = ViTokenizer.tri_grams
_INSIDE = 1  # label id of "I_W" (checked when the model is read)


def _read_crfsuite_model(path: str) -> tuple[list[str], dict[str, list[float]], list[list[float]]]:
    """Labels, attribute → per-label state weights, and label → label transition weights.

    The layout is crfsuite's CRF1d model file (``crf1d_model.c``): a header of offsets, two CQDB string
    tables (labels, attributes) and an array of (type, source, destination, float64 weight) features.
    """
    buf = Path(path).read_bytes()
    head = struct.unpack_from("<4sI4sIIIIIIIII", buf, 0)
    if head[0] != b"lCRF" or head[2] != b"FOMC":
        raise ValueError(f"{path}: not a crfsuite CRF1d model")
    off_features, off_labels, off_attrs = head[7], head[8], head[9]

    def strings(offset: int) -> dict[int, str]:
        chunk, _, _, byteorder, _, _ = struct.unpack_from("<4sIIIII", buf, offset)
        if chunk != b"CQDB" or byteorder != 0x62445371:
            raise ValueError(f"{path}: unexpected string table")
        refs = struct.unpack_from("<512I", buf, offset + 24)
        out: dict[int, str] = {}
        pos = offset + 24 + 2048  # records follow the header and the 256 table references
        for _ in range(sum(refs[1::2]) // 2):
            ident, size = struct.unpack_from("<iI", buf, pos)
            out[ident] = buf[pos + 8 : pos + 7 + size].decode("utf-8")
            pos += 8 + size
        return out

    label_names = strings(off_labels)
    attr_names = strings(off_attrs)
    labels = [label_names[i] for i in range(len(label_names))]
    chunk, _, count = struct.unpack_from("<4sII", buf, off_features)
    if chunk != b"FEAT":
        raise ValueError(f"{path}: unexpected feature chunk")
    state: dict[str, list[float]] = {}
    trans = [[0.0] * len(labels) for _ in labels]
    for kind, src, dst, weight in struct.iter_unpack("<IIId", buf[off_features + 12 : off_features + 12 + 20 * count]):
        if kind == 0:
            state.setdefault(attr_names[src], [0.0] * len(labels))[dst] = weight
        else:
            trans[src][dst] = weight
    return labels, state, trans


class _Crf:
    """pyvi's CRF tagger with crfsuite's arithmetic, in the same order, on per-token weight rows.

    crfsuite scores a token by adding, attribute by attribute in the order of pyvi's feature dict,
    ``weight × value`` to a zeroed score per label (``crf1dt_state_score``); unknown attributes and
    ``False`` features add nothing (adding 0.0 leaves a double unchanged). The first five features
    depend on the token alone, so their running sum is cached per token string; the ten that look at a
    neighbour are added as shifted columns, in dict order.
    """

    _CACHE_LIMIT = 200_000  # token strings; the cache starts over beyond this (bounded memory)
    # Column pairs (B_W, I_W) of the per-token table: the running sum of the token's own five
    # features, then what the token adds to its right neighbour's score (the neighbour's -1:
    # features) and to its left neighbour's (+1: features).
    _PREFIX, _M1_LOWER, _M1_TITLE, _M1_UPPER, _P1_LOWER, _P1_TITLE, _P1_UPPER = (
        slice(i, i + 2) for i in range(0, 14, 2))

    def __init__(self, path: str) -> None:
        labels, self._state, trans = _read_crfsuite_model(path)
        if labels != ["B_W", "I_W"]:
            raise ValueError(f"unexpected pyvi labels {labels}")
        self._trans = trans
        self._bias = self._w("bias")
        zero = [0.0, 0.0]
        # Row 0 adds zero (the feature is False), row 1 the feature's weights.
        self._bi_m1 = np.array([zero, self._w("-1:word.bi_gram()")])
        self._tri_m2 = np.array([zero, self._w("-2:word.tri_gram()")])
        self._bi_p1 = np.array([zero, self._w("+1:word.bi_gram()")])
        self._tri_p2 = np.array([zero, self._w("+2:word.tri_gram()")])
        self._rows: dict[str, int] = {}
        self._table = np.zeros((1024, 14))

    def _w(self, attribute: str) -> list[float]:
        # crfsuite looks attributes up as C strings: a NUL ends the name.
        return self._state.get(attribute.partition("\0")[0], [0.0, 0.0])

    def _row(self, token: str) -> int:
        row = len(self._rows)
        if row == len(self._table):
            self._table = np.concatenate([self._table, np.zeros_like(self._table)])
        lower, title, upper = token.lower(), token.istitle(), token.isupper()
        w = self._w
        prefix = [0.0, 0.0]
        own = (self._bias, w("word.lower():" + lower), w("word.isupper()") if upper else None,
               w("word.istitle()") if title else None, w("word.isdigit()") if token.isdigit() else None)
        for weights in own:
            if weights is not None:
                prefix = [prefix[0] + weights[0], prefix[1] + weights[1]]
        zero = [0.0, 0.0]
        t = self._table[row]
        t[self._PREFIX] = prefix
        t[self._M1_LOWER] = w("-1:word.lower():" + lower)
        t[self._M1_TITLE] = w("-1:word.istitle()") if title else zero
        t[self._M1_UPPER] = w("-1:word.isupper()") if upper else zero
        t[self._P1_LOWER] = w("+1:word.lower():" + lower)
        t[self._P1_TITLE] = w("+1:word.istitle()") if title else zero
        t[self._P1_UPPER] = w("+1:word.isupper()") if upper else zero
        self._rows[token] = row
        return row

    def _scores(self, tokens: list[str]) -> np.ndarray:
        rows_of = self._rows
        if len(rows_of) > self._CACHE_LIMIT:
            rows_of.clear()  # only between texts: the rows of one text must stay put
        ids = [rows_of.get(t, -1) for t in tokens]
        if -1 in ids:
            ids = [rows_of[t] if t in rows_of else self._row(t) for t in tokens]
        g = self._table[ids]  # one row of weights per token
        s = g[:, self._PREFIX].copy()
        n = len(tokens)
        if n < 2:
            return s
        lower = [x.lower() for x in tokens]
        pairs = [a + " " + b for a, b in zip(lower, lower[1:])]
        bi = np.fromiter([p in _BIGRAMS for p in pairs], dtype=np.intp, count=n - 1)
        left, right = g[:-1], g[1:]
        # The "-1:" and "-2:" features, then the "+1:" and "+2:" ones: pyvi's dict order.
        s[1:] += left[:, self._M1_LOWER]
        s[1:] += left[:, self._M1_TITLE]
        s[1:] += left[:, self._M1_UPPER]
        s[1:] += self._bi_m1[bi]
        tri = None
        if n > 2:
            tri = np.fromiter([p + " " + c in _TRIGRAMS for p, c in zip(pairs, lower[2:])], dtype=np.intp,
                              count=n - 2)
            s[2:] += self._tri_m2[tri]
        s[:-1] += right[:, self._P1_LOWER]
        s[:-1] += right[:, self._P1_TITLE]
        s[:-1] += right[:, self._P1_UPPER]
        s[:-1] += self._bi_p1[bi]
        if tri is not None:
            s[:-2] += self._tri_p2[tri]
        return s

    def inside(self, tokens: list[str]) -> list[bool]:
        """Viterbi labels as booleans (True: "I_W"), exactly as ``crf1dc_viterbi`` picks them."""
        scores = self._scores(tokens)
        (t00, t01), (t10, t11) = self._trans
        states = zip(scores[:, 0].tolist(), scores[:, 1].tolist())
        p0, p1 = next(states)
        back: list[int] = []  # per step: bit 0, the best predecessor of label 0; bit 1, of label 1
        for s0, s1 in states:
            # crfsuite keeps the first maximum (strict <), so ties go to label 0.
            a, b = p0 + t00, p1 + t10
            c, d = p0 + t01, p1 + t11
            if a < b:
                p0, k = b + s0, 1
            else:
                p0, k = a + s0, 0
            if c < d:
                p1, k = d + s1, k | 2
            else:
                p1 = c + s1
            back.append(k)
        label = 1 if p0 < p1 else 0
        out = [False] * len(tokens)
        for i in range(len(tokens) - 1, 0, -1):
            out[i] = label == _INSIDE
            label = (back[i - 1] >> label) & 1
        out[0] = label == _INSIDE
        return out


_CRF: _Crf | None = None


def _crf() -> _Crf:
    global _CRF
    if _CRF is None:
        _CRF = _Crf(ViTokenizer.model.modelfile.name)
    return _CRF


def load_model() -> None:
    """Reads pyvi's CRF weights now rather than at the first text (before forking workers, for timing)."""
    _crf()


def _joins(prev: str, cur: str) -> bool:
    """pyvi's rule for gluing an "I_W" token to the previous one (see ``ViTokenizer.tokenize``)."""
    return (
        cur not in _PUNCTUATION
        and prev not in _PUNCTUATION
        and not cur[0].isdigit()
        and not prev[0].isdigit()
        and not (cur[0].istitle() and not prev[0].istitle())
    )


def _glued(tokens: list[str]) -> list[bool]:
    """For each token, whether pyvi glues it to the previous one."""
    inside = _crf().inside(tokens)
    return [False] + [
        inside[i] and _joins(tokens[i - 1], tokens[i]) for i in range(1, len(tokens))
    ]


def word_spans(text: str) -> list[tuple[int, int, int]]:
    """Spans of pyvi's multi-syllable words in NFC ``text``: (start, end, number of pyvi tokens)."""
    matches = list(_PYVI_TOKEN.finditer(text))
    if len(matches) < 2:
        return []
    glued = _glued([m.group() for m in matches])
    spans: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(matches) + 1):
        if i < len(matches) and glued[i]:
            continue
        if i - start > 1:
            spans.append((matches[start].start(), matches[i - 1].end(), i - start))
        start = i
    return spans


def pyvi_words(text: str) -> list[str]:
    """The words pyvi would print for NFC ``text``, syllables joined by ``_`` (for checking parity)."""
    tokens = [m.group() for m in _PYVI_TOKEN.finditer(text)]
    if not tokens:
        return []
    glued = _glued(tokens)
    words = [tokens[0]]
    for i in range(1, len(tokens)):
        if glued[i]:
            words[-1] += "_" + tokens[i]
        else:
            words.append(tokens[i])
    return words
