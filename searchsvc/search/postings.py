"""One term's postings in one snapshot, with BM25's frequency part computed once; long lists kept between searches.

A common word (``dang``, ``voi``) is in most of the archive and in a good share of the queries. Reading its
postings (a copy out of the page cache), counting its live documents and computing BM25's frequency part
``w (K1 + 1) / (w + K1 (1 - B + B L / avg))`` for each of them is the same work every time until the
snapshot changes, and it grows with the archive. So the postings, their live document frequency and that
part are computed once per snapshot: a query only multiplies by its idf and boost. Scored lists of at least
MIN_POSTINGS documents are kept (docnums and frequency parts; the weights are dropped once scored), least
recently used first out, within a byte budget (``TERM_CACHE_MB``); shorter ones cost less to read again
than to keep, and a filter's (never scored) are read again too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from searchsvc.store import flat
from searchsvc.store.snapshot import Snapshot

K1 = flat.BM25_K1  # 1.2: the flat files' block maxima are taken with the same parameters (B: Snapshot.length_norm)
MIN_POSTINGS = 1024  # shorter lists are read again per search (a few microseconds) rather than kept
_BYTES_PER_POSTING = 8  # docnum int32, frequency part float32
# A list holding at least this share of the documents is also kept as dense vectors (frequency part and
# match per docnum, 5 bytes a document): a query then multiplies one contiguous array instead of scattering
# a list into one (0.37 against 0.04 ms for a word in half of baomoi), and memory grows by less than half.
DENSE_SHARE = 0.4


class TermPostings:
    """A term's postings (deleted documents included) and its live document frequency; immutable but for
    the frequency part, computed at first use (filters and phrase orderings never need it), which then
    replaces the weights."""

    __slots__ = ("ids", "weights", "df", "n", "kept", "_tf", "_dense")

    def __init__(self, ids: np.ndarray, weights: np.ndarray, df: int, n: int) -> None:
        self.ids = ids  # int32 docnums, ascending
        # float32, what the index stores (BM25F's per-part weights applied); None once ``tf`` is computed
        self.weights: np.ndarray | None = weights
        self.df = df
        self.n = n  # the snapshot's docnums
        self.kept = False  # by a TermCache: worth dense vectors (a list read for one search is not)
        self._tf: np.ndarray | None = None
        self._dense: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def read(cls, snapshot: Snapshot, got: tuple[np.ndarray, np.ndarray]) -> TermPostings:
        # Live documents only, in df as in N: a replaced article's old copy stays in the postings until a
        # merge, and must not make its words look commoner.
        ids, weights = got
        return cls(ids, weights, snapshot.live_count(ids), snapshot.n)

    @property
    def is_dense(self) -> bool:
        """Common enough to be kept as dense vectors too (``dense``), if kept at all."""
        return len(self.ids) >= DENSE_SHARE * self.n > 0

    def tf(self, snapshot: Snapshot, field: str) -> np.ndarray:
        """BM25's frequency part of each posting (float32): its score is this times idf and boost."""
        tf = self._tf
        if tf is None:
            w = self.weights
            assert w is not None
            tf = self._tf = w * (K1 + 1) / (w + snapshot.length_norm(field)[self.ids])
            self.weights = None  # not needed again: a kept list costs two arrays, not three
        return tf

    @property
    def scored(self) -> bool:
        return self._tf is not None

    def dense(self, snapshot: Snapshot, field: str) -> tuple[np.ndarray, np.ndarray]:
        """``tf`` per docnum (0 where the term is not) and whether the term is there: never to be changed."""
        dense = self._dense
        if dense is None:
            score, match = np.zeros(self.n, np.float32), np.zeros(self.n, bool)
            score[self.ids] = self.tf(snapshot, field)
            match[self.ids] = True
            dense = self._dense = (score, match)
        return dense

    @property
    def nbytes(self) -> int:
        return len(self.ids) * _BYTES_PER_POSTING + (5 * self.n if self.is_dense else 0)


class TermCache:
    """The long posting lists of one snapshot, kept within ``budget`` bytes (least recently used out);
    dropped with the snapshot. Safe to share between threads."""

    def __init__(self, budget: int, min_postings: int = MIN_POSTINGS) -> None:
        self.budget = budget
        self.min_postings = min_postings
        self.used = 0
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, str], TermPostings] = OrderedDict()

    def get(self, key: tuple[str, str]) -> TermPostings | None:
        with self._lock:
            got = self._kept.get(key)
            if got is not None:
                self._kept.move_to_end(key)
            return got

    def offer(self, key: tuple[str, str], postings: TermPostings) -> None:
        """Keep ``postings`` (scored: ``tf`` computed) if long enough to be worth it and within the budget
        (older lists give way)."""
        size = postings.nbytes
        if not postings.scored or len(postings.ids) < self.min_postings or size > self.budget:
            return
        with self._lock:
            if key in self._kept:
                return
            while self.used + size > self.budget:
                _, old = self._kept.popitem(last=False)
                self.used -= old.nbytes
            self._kept[key] = postings
            postings.kept = True
            self.used += size

    def __len__(self) -> int:
        return len(self._kept)
