"""How often accented syllables follow each other in the index: the corpus as a language model.

Accent restoration needs context beyond one syllable's frequency (``bao nhieu`` is ``bao nhiêu``
although ``nhiều`` is twenty times as common). Counting every adjacent pair of exact syllables while
indexing gives that context. A pair is kept under a 64-bit key, 32 bits of each syllable's hash
(exact keys, sorted, with counts: a fixed table of hashed buckets let rare forms borrow frequent pairs'
counts and restored ``cho xe`` as ``chò xê``). Pairs seen once are kept: dropping them (half the
table) cost 0.4% of restorations. Single syllables are counted in the same table under a reserved
low half, with how many distinct syllables follow them; the number of syllables counted is kept
under the reserved key 0. A 32-bit half can collide (about one syllable pair in 10^5 shares a half):
the cost is a wrong count for a rare pair, never an error.

Only syllables separated by one character (a space, usually) count as adjacent: ``Hà Nội, Việt Nam``
gives ``hà nội`` and ``việt nam``, not ``nội việt``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from searchsvc.analysis import syllable_ids

FILE = "bigrams.npy"
_HIGH = np.uint64(0xFFFFFFFF00000000)
_LOW = np.uint64(0xFFFFFFFF)
_UNIGRAM = np.uint64(0x5BD1E995)  # the low half that makes (syllable, nothing) its own key
_TOTAL_KEY = 0
# Keys buffered before they are folded into the sorted counts (16 MiB). A fold briefly needs about five times
# the buffer and the table: at 64 MiB, folds landing while the other worker wrote a segment made the reindex's
# peak (1.51 GB); at 16 MiB it is 1.24 GB, for about 3 s more CPU.
_FLUSH = 1 << 21


@lru_cache(maxsize=1 << 16)  # a query hashes each of its forms several times; common ones recur across queries
def _hash(syllable: str) -> int:
    # Stable across processes (str.__hash__ is salted per process): workers' tables are merged.
    return int.from_bytes(hashlib.blake2b(syllable.encode("utf-8"), digest_size=8).digest(), "little")


def _hashes(syllables: Sequence[str]) -> np.ndarray:
    return np.fromiter((_hash(s) for s in syllables), np.uint64, len(syllables))


def _pair_keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # The left syllable's hash in the high half, so a syllable's followers group by ``key >> 32``.
    keys: np.ndarray = (a & _HIGH) | (b & _LOW)
    return keys


def _unigram_keys(a: np.ndarray) -> np.ndarray:
    return _pair_keys(a, np.full(len(a), _UNIGRAM, np.uint64))


def _sum_by_key(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys and the sum of their counts."""
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return keys[starts], np.add.reduceat(counts, starts) if len(keys) else counts


class Counter:
    """Counts adjacent syllable pairs (and syllables) of analysed texts."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, np.uint64)
        self.counts = np.zeros(0, np.uint64)
        self.syllables = 0
        self._ids: dict[str, int] = {}
        self._forms: list[str] | None = None  # the analysis's table of forms that _form_hashes follows
        self._form_hashes = np.zeros(0, np.uint64)
        self._pending: list[np.ndarray] = []
        self._pending_size = 0

    def add_text(self, text: str, words: bool = False) -> None:
        """One text (``words``: the indexing analysis of it, with pyvi words, was just made and is cached)."""
        terms, starts, ends, forms = syllable_ids(text, words)
        if not len(terms):
            return
        if forms is not self._forms:  # the analysis started over: its numbers mean other forms
            self._forms, self._form_hashes = forms, np.zeros(0, np.uint64)
        known = len(self._form_hashes)
        if int(terms.max()) >= known:
            more = np.fromiter(map(_hash, forms[known:]), np.uint64, len(forms) - known)
            self._form_hashes = np.concatenate([self._form_hashes, more])
        self._count(self._form_hashes[terms], starts, ends)

    def add(self, exact: Sequence[str], starts: Sequence[int], ends: Sequence[int]) -> None:
        """One text's syllables in order, with their character offsets."""
        if not exact:
            return
        ids = self._ids
        for s in exact:
            if s not in ids:
                ids[s] = _hash(s)
        self._count(np.fromiter((ids[s] for s in exact), np.uint64, len(exact)), starts, ends)

    def _count(self, h: np.ndarray, starts: Sequence[int] | np.ndarray, ends: Sequence[int] | np.ndarray) -> None:
        n = len(h)
        self.syllables += n
        self._push(_unigram_keys(h))
        if n > 1:
            adjacent = (np.asarray(starts[1:], np.int64) - np.asarray(ends[:-1], np.int64)) == 1
            self._push(_pair_keys(h[:-1][adjacent], h[1:][adjacent]))

    def _push(self, keys: np.ndarray) -> None:
        self._pending.append(keys)
        self._pending_size += len(keys)
        if self._pending_size >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        new = np.sort(np.concatenate(self._pending))
        self._pending, self._pending_size = [], 0
        firsts = np.flatnonzero(np.concatenate(([True], new[1:] != new[:-1])))
        new_keys, new_counts = new[firsts], np.diff(np.append(firsts, len(new))).astype(np.uint64)
        del new
        # Merged into the sorted table: a key already there adds its count, the others are inserted in order.
        at = np.searchsorted(self.keys, new_keys)
        held = at < len(self.keys)
        held[held] = self.keys[at[held]] == new_keys[held]
        self.counts[at[held]] += new_counts[held]  # each key once: plain indexing adds them all
        self.keys = np.insert(self.keys, at[~held], new_keys[~held])
        self.counts = np.insert(self.counts, at[~held], new_counts[~held])

    def result(self) -> np.ndarray:
        """This counter's table, ``[keys, counts]`` (2 × n uint64), the total under key 0."""
        self._flush()
        # (np.concatenate of a Python int list and uint64 would go through float64 and lose key bits.)
        return np.stack([np.concatenate([np.asarray([_TOTAL_KEY], np.uint64), self.keys]),
                         np.concatenate([np.asarray([self.syllables], np.uint64), self.counts])])


def merge(tables: Sequence[np.ndarray]) -> np.ndarray:
    """Counters' tables (``Counter.result``) summed into one.

    The saved table has three rows: key, count, and for a syllable the number of distinct syllables
    seen after it (pairs seen once included), which Witten-Bell smoothing needs.
    """
    keys, counts = _sum_by_key(np.concatenate([t[0] for t in tables]), np.concatenate([t[1] for t in tables]))
    unigram = (keys & _LOW) == _UNIGRAM
    pair = ~unigram & (keys != _TOTAL_KEY)
    left = keys >> np.uint64(32)  # a pair's left syllable, a syllable's own hash half
    lefts, followers = np.unique(left[pair], return_counts=True)
    distinct = np.zeros(len(keys), np.uint64)
    if len(lefts):
        at = np.minimum(np.searchsorted(lefts, left[unigram]), len(lefts) - 1)
        distinct[unigram] = np.where(lefts[at] == left[unigram], followers[at], 0)
    return np.stack([keys, counts, distinct])


class Bigrams:
    """Read side: occurrence counts of a syllable and of an adjacent pair."""

    def __init__(self, table: np.ndarray) -> None:
        self.keys = table[0]
        self.values = table[1]
        self.followers = table[2]
        self.total = max(1, int(self._lookup(np.asarray([_TOTAL_KEY], np.uint64), self.values)[0][0]))

    def _lookup(self, keys: np.ndarray, *rows: np.ndarray) -> list[np.ndarray]:
        """Each row's value at each key (0 for a key not in the table): one search for every row."""
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = self.keys[at] == keys
        return [np.where(found, row[at], 0).astype(np.float64) for row in rows]

    def unigrams(self, syllables: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """How often each syllable occurs, and how many distinct syllables follow it."""
        counts, followers = self._lookup(_unigram_keys(_hashes(syllables)), self.values, self.followers)
        return counts, followers

    def pair_counts(self, left: Sequence[str], right: Sequence[str]) -> np.ndarray:
        """``counts[i, j]``: how often ``right[j]`` directly follows ``left[i]``."""
        a, b = _hashes(left), _hashes(right)
        keys = _pair_keys(np.repeat(a, len(b)), np.tile(b, len(a)))
        return self._lookup(keys, self.values)[0].reshape(len(a), len(b))


def save(directory: Path, table: np.ndarray) -> None:
    tmp = directory / f"{FILE}.tmp-{os.getpid()}.npy"
    try:
        np.save(tmp, table)
        os.replace(tmp, directory / FILE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load(directory: Path) -> Bigrams | None:
    """The generation's table, memory-mapped (one copy in the page cache for every worker); None if absent."""
    try:
        table = np.load(directory / FILE, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if table.ndim != 2 or table.shape[0] != 3 or table.dtype != np.uint64 or not table.shape[1]:
        return None
    # A plain view of the mapping: every slice of an np.memmap runs its Python __array_finalize__ (a sixth
    # of a query's accent restoration went there).
    return Bigrams(table.view(np.ndarray))
