"""pyvi word segmentation, with character offsets.

``ViTokenizer.tokenize`` returns a re-spaced string and no offsets. We run pyvi's own syllabifier
regex with ``finditer`` (so every pyvi token keeps its span), score pyvi's CRF features ourselves and
apply pyvi's own joining rules. The result is exactly pyvi's segmentation, with spans, several times
faster than pyvi itself: each distinct whitespace-free chunk is tokenised once (``chunks.py``), a token's
features are a row of weights made once per distinct token, the scoring and the Viterbi path are one
compiled loop over a text's rows (numba), and the joining rules are vectorised with numpy.

Why our own scoring: pyvi spends most of its time building a dict of 15 features per token and
handing it to crfsuite, which turns every feature back into a string and looks it up in the model.
The model is small (two labels, ~6,000 attributes), so we read its weights from the model file once
(:class:`_Crf`) and sum them per token ourselves, *in crfsuite's order*: floating-point addition is
not associative, and the same additions in the same order give bit-identical scores, hence the same
Viterbi path. ``tests/analysis/test_segment.py`` checks the output against ``pyvi.ViTokenizer.tokenize``.
"""

from __future__ import annotations

import re
import string
import struct
import threading
from pathlib import Path

import numba
import numpy as np
from pyvi.ViTokenizer import ViTokenizer

from searchsvc.analysis.chunks import Columns, split

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
# The columns of a token's row of weights (``_Crf``), each the first of a pair (B_W, I_W): the running sum
# of the token's own five features, then what the token adds to its right neighbour's score (the
# neighbour's -1: features) and to its left neighbour's (+1: features).
_PREFIX_COL, _M1_LOWER_COL, _M1_TITLE_COL, _M1_UPPER_COL, _P1_LOWER_COL, _P1_TITLE_COL, _P1_UPPER_COL = range(0, 14, 2)


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
    depend on the token alone, so their running sum is kept per token string (a row); the ten that look
    at a neighbour are added from the neighbours' rows, in dict order (``_inside``, compiled). The n-gram
    features are set lookups of lowercase pairs and triples: each lowercase form that occurs in pyvi's
    n-gram lists has a number, so a pair or triple is one int64 key, looked up in sorted key arrays.
    """

    _PREFIX, _M1_LOWER, _M1_TITLE, _M1_UPPER, _P1_LOWER, _P1_TITLE, _P1_UPPER = (
        slice(c, c + 2) for c in (_PREFIX_COL, _M1_LOWER_COL, _M1_TITLE_COL, _M1_UPPER_COL, _P1_LOWER_COL,
                                  _P1_TITLE_COL, _P1_UPPER_COL))

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
        # pyvi's n-gram entries have exactly one (two) spaces and tokens have none, so "a b" is in the
        # set exactly when the pair of lowercase forms (a, b) is one of the entries split on " ".
        self._ngram_words: dict[str, int] = {}
        for entry in sorted(_BIGRAMS | _TRIGRAMS):
            for word in entry.split(" "):
                self._ngram_words.setdefault(word, len(self._ngram_words))
        self._base = len(self._ngram_words) + 1  # the last number: a form in no entry
        self._bigram_keys = np.unique(np.array([self._key(e) for e in _BIGRAMS], np.int64))
        self._trigram_keys = np.unique(np.array([self._key(e) for e in _TRIGRAMS], np.int64))
        self.reset()

    def reset(self) -> None:
        """Forgets the token rows (bounded memory); chunk tables holding row numbers must go too."""
        self.rows: dict[str, int] = {}
        self._table = np.zeros((1024, 14))
        # Per row: number of the lowercase form, and pyvi's joining tests (punctuation, first character
        # a digit, first character titlecase).
        self._lower = np.zeros(1024, np.int64)
        self._flags = np.zeros((1024, 3), bool)

    def _key(self, entry: str) -> int:
        key = 0
        for word in entry.split(" "):
            key = key * self._base + self._ngram_words[word]
        return key

    def _w(self, attribute: str) -> list[float]:
        # crfsuite looks attributes up as C strings: a NUL ends the name.
        return self._state.get(attribute.partition("\0")[0], [0.0, 0.0])

    def row(self, token: str) -> int:
        """The row of ``token``'s weights, made on first sight."""
        known = self.rows.get(token)
        if known is not None:
            return known
        row = len(self.rows)
        if row == len(self._table):
            self._table = np.concatenate([self._table, np.zeros_like(self._table)])
            self._lower = np.concatenate([self._lower, np.zeros_like(self._lower)])
            self._flags = np.concatenate([self._flags, np.zeros_like(self._flags)])
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
        self._lower[row] = self._ngram_words.get(lower, self._base - 1)
        self._flags[row] = (token in _PUNCTUATION, token[0].isdigit(), token[0].istitle())
        self.rows[token] = row
        return row

    def inside(self, ids: np.ndarray) -> np.ndarray:
        """Viterbi labels of the token rows ``ids`` as booleans (True: "I_W"), as ``crf1dc_viterbi`` picks them."""
        (t00, t01), (t10, t11) = self._trans
        return _inside(self._table, ids, self._lower, self._base, self._bigram_keys, self._trigram_keys,
                       self._bi_m1, self._tri_m2, self._bi_p1, self._tri_p2, t00, t01, t10, t11)

    def glued(self, ids: np.ndarray) -> np.ndarray:
        """For each token, whether pyvi glues it to the previous one (see ``ViTokenizer.tokenize``)."""
        glued = self.inside(ids)
        punct, digit, title = self._flags[ids].T
        glued[1:] &= ~punct[1:] & ~punct[:-1] & ~digit[1:] & ~digit[:-1] & ~(title[1:] & ~title[:-1])
        glued[0] = False
        return glued


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _member(table: np.ndarray, key: int) -> int:
    at = np.searchsorted(table, key)
    return 1 if at < len(table) and table[at] == key else 0


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def _inside(table: np.ndarray, ids: np.ndarray, lower_of: np.ndarray, base: int, bigram_keys: np.ndarray,
            trigram_keys: np.ndarray, bi_m1: np.ndarray, tri_m2: np.ndarray, bi_p1: np.ndarray, tri_p2: np.ndarray,
            t00: float, t01: float, t10: float, t11: float) -> np.ndarray:
    """crfsuite's state scores and two-label Viterbi for the token rows ``ids`` (True: "I_W").

    Compiled: a step per token, the bulk of segmenting. Each token's score per label is its row's prefix,
    then in pyvi's dict order the "-1:" features of its left neighbour, the "-2:" trigram, the "+1:"
    features of its right neighbour and the "+2:" trigram, each added even when zero; the Viterbi steps
    add and compare in ``crf1dc_viterbi``'s order. numba keeps the double arithmetic as written (no
    ``fastmath``), so the scores and the path are bit for bit crfsuite's.
    """
    n = len(ids)
    lower = lower_of[ids]
    bi = np.zeros(max(n - 1, 0), np.intp)  # whether tokens (i, i + 1) form one of pyvi's bigrams
    tri = np.zeros(max(n - 2, 0), np.intp)  # and (i, i + 1, i + 2) one of its trigrams
    for i in range(n - 1):
        pair = lower[i] * base + lower[i + 1]
        bi[i] = _member(bigram_keys, pair)
        if i < n - 2:
            tri[i] = _member(trigram_keys, pair * base + lower[i + 2])
    s = np.empty((n, 2))
    for i in range(n):
        row = table[ids[i]]
        for j in range(2):
            x = row[_PREFIX_COL + j]
            if i >= 1:
                left = table[ids[i - 1]]
                x += left[_M1_LOWER_COL + j]
                x += left[_M1_TITLE_COL + j]
                x += left[_M1_UPPER_COL + j]
                x += bi_m1[bi[i - 1], j]
                if i >= 2:
                    x += tri_m2[tri[i - 2], j]
            if i < n - 1:
                right = table[ids[i + 1]]
                x += right[_P1_LOWER_COL + j]
                x += right[_P1_TITLE_COL + j]
                x += right[_P1_UPPER_COL + j]
                x += bi_p1[bi[i], j]
                if i < n - 2:
                    x += tri_p2[tri[i], j]
            s[i, j] = x
    back = np.zeros(n, np.uint8)  # per step: bit 0, the best predecessor of label 0; bit 1, of label 1
    p0, p1 = s[0, 0], s[0, 1]
    for i in range(1, n):
        a, b = p0 + t00, p1 + t10
        c, d = p0 + t01, p1 + t11
        # crfsuite keeps the first maximum (strict <), so ties go to label 0.
        if a < b:
            p0, k = b + s[i, 0], 1
        else:
            p0, k = a + s[i, 0], 0
        if c < d:
            p1, k = d + s[i, 1], k | 2
        else:
            p1 = c + s[i, 1]
        back[i] = k
    out = np.zeros(n, np.bool_)  # label 1 is "I_W" (checked when the model is read)
    label = 1 if p0 < p1 else 0
    for i in range(n - 1, 0, -1):
        out[i] = label
        label = (back[i] >> label) & 1
    out[0] = label
    return out


class _Tokens:
    """pyvi's tokens of each chunk (``chunks.py``): CRF row, start and end within the chunk."""

    LIMIT = 100_000  # chunks; beyond this the tables start over, between texts (bounded memory)

    def __init__(self, crf: _Crf) -> None:
        self._crf = crf
        self._chunks = Columns(("row", "start", "end"))

    def __call__(self, chunks: list[str], offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows, starts and ends of the tokens of a text given as its chunks."""
        if len(self._chunks) > self.LIMIT or len(self._crf.rows) > 2 * self.LIMIT:
            self._crf.reset()
            self._chunks = Columns(("row", "start", "end"))
        table = self._chunks
        ks = list(map(table.ids.get, chunks))
        if None in ks:
            ks = [table.ids[c] if c in table.ids else self._add(c) for c in chunks]
        got, at = table.gather(ks, offsets)  # type: ignore[arg-type]  # no None left
        return got["row"], got["start"] + at, got["end"] + at

    def _add(self, chunk: str) -> int:
        cols, row = self._chunks.columns, self._crf.row
        for m in _PYVI_TOKEN.finditer(chunk):
            cols["row"].append(row(m.group()))
            cols["start"].append(m.start())
            cols["end"].append(m.end())
        return self._chunks.finish_chunk(chunk)


_TOKENS: _Tokens | None = None
_LOCK = threading.RLock()  # the tables grow and start over: one text at a time per process


def _tokens() -> _Tokens:
    global _TOKENS
    with _LOCK:
        if _TOKENS is None:
            _TOKENS = _Tokens(_Crf(ViTokenizer.model.modelfile.name))
            # Compiled (or read from numba's cache) with the model, not at the first text: a reindex's
            # workers forked afterwards inherit it.
            _TOKENS._crf.inside(np.zeros(3, np.int64))
        return _TOKENS


def load_model() -> None:
    """Reads pyvi's CRF weights now rather than at the first text (before forking workers, for timing)."""
    _tokens()


def clear() -> None:
    """Forgets every chunk and token row seen (a reindex starts with none)."""
    with _LOCK:
        if _TOKENS is not None:
            _TOKENS._crf.reset()
            _TOKENS._chunks = Columns(("row", "start", "end"))


def _segmented(chunks: list[str], offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pyvi's tokens as (starts, ends) and whether each is glued to the previous one."""
    tokens = _tokens()
    with _LOCK:
        rows, starts, ends = tokens(chunks, offsets)
        if len(rows) < 2:
            return starts, ends, np.zeros(len(rows), bool)
        return starts, ends, tokens._crf.glued(rows)


def spans_of_chunks(chunks: list[str], offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starts, ends and token counts of pyvi's multi-token words in a text given as ``chunks.split`` gives it."""
    starts, ends, glued = _segmented(chunks, offsets)
    n = len(starts)
    if n < 2:
        return starts[:0], ends[:0], starts[:0]
    first = np.flatnonzero(~glued)
    last = np.append(first[1:], n) - 1
    multi = last > first
    return starts[first[multi]], ends[last[multi]], (last - first + 1)[multi]


def word_spans(text: str) -> list[tuple[int, int, int]]:
    """Spans of pyvi's multi-syllable words in NFC ``text``: (start, end, number of pyvi tokens)."""
    starts, ends, counts = spans_of_chunks(*split(text))
    return list(zip(starts.tolist(), ends.tolist(), counts.tolist()))


def pyvi_words(text: str) -> list[str]:
    """The words pyvi would print for NFC ``text``, syllables joined by ``_`` (for checking parity)."""
    starts, ends, glued = _segmented(*split(text))
    words: list[str] = []
    for start, end, glue in zip(starts.tolist(), ends.tolist(), glued.tolist()):
        if glue:
            words[-1] += "_" + text[start:end]
        else:
            words.append(text[start:end])
    return words
