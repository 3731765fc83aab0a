"""BM25 over whole postings lists with numpy: the scoring half of search.

Whoosh stores the index and matches phrases; scoring a query of a few dozen terms through Whoosh's
per-posting Python matchers costs hundreds of milliseconds, and we need every match anyway (totals
and facets cover the whole result set). So each term's postings are read block by block into arrays,
and the query tree (the few Whoosh query types ``matching.plan`` builds) is evaluated as dense
score and match vectors over the document numbers of the reader.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import FilterMatcher

from searchsvc import flatpostings
from searchsvc.codec import CompactPositions, decode_many
from searchsvc.flatpostings import FlatPostings

K1 = 1.2
B = 0.75
PHRASE_CANDIDATES = 2000  # best-scoring documents whose positions a phrase query checks
CACHED_POSITIONS = 2000  # postings from which a word's positions are decoded whole and cached


@dataclass
class Vectors:
    score: np.ndarray  # float32 per docnum
    match: np.ndarray  # bool per docnum


@dataclass
class ReaderStats:
    """Per-reader arrays, built once per opened reader."""

    reader: Any
    n: int = 0
    live: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    lengths: dict[str, np.ndarray] = field(default_factory=dict)
    avg_length: dict[str, float] = field(default_factory=dict)
    # Decoded postings, least recently used first: (kind, field, term) → arrays
    cache: OrderedDict[tuple[str, str, str], tuple[np.ndarray, ...]] = field(default_factory=OrderedDict)
    cached_bytes: int = 0
    cache_limit: int = 32 * 2**20  # the POSTINGS_CACHE_MB setting: popular terms stay in memory
    # Per leaf reader (segment): its decode-free postings, or None (read from the W3 postings)
    flats: list[FlatPostings | None] = field(default_factory=list)

    @classmethod
    def of(cls, reader: Any, cache_limit: int) -> ReaderStats:
        n = reader.doc_count_all()
        live = np.ones(n, bool)
        if reader.has_deletions():
            for d in range(n):
                if reader.is_deleted(d):
                    live[d] = False
        flats = [_flat_for(sub) for sub, _ in reader.leaf_readers()]
        return cls(reader, n, live, cache_limit=cache_limit, flats=flats)

    def length_array(self, fieldname: str) -> np.ndarray:
        arr = self.lengths.get(fieldname)
        if arr is None:
            dfl = self.reader.doc_field_length
            arr = np.fromiter((dfl(d, fieldname, 0) for d in range(self.n)), np.float32, self.n)
            live_count = max(1, int(self.live.sum()))
            self.avg_length[fieldname] = max(1.0, float(arr[self.live].sum()) / live_count)
            self.lengths[fieldname] = arr
        return arr

    def _cached(self, key: tuple[str, str, str], read: Any) -> tuple[np.ndarray, ...]:
        hit = self.cache.get(key)
        if hit is not None:
            self.cache.move_to_end(key)
            return hit
        out: tuple[np.ndarray, ...] = read()
        self.cache[key] = out
        self.cached_bytes += sum(a.nbytes for a in out)
        while self.cached_bytes > self.cache_limit and len(self.cache) > 1:
            _, old = self.cache.popitem(last=False)
            self.cached_bytes -= sum(a.nbytes for a in old)
        return out

    def postings(self, fieldname: str, text: str) -> tuple[np.ndarray, ...]:
        """(docnums, weights) of a term, docnums ascending."""
        def read() -> tuple[np.ndarray, ...]:
            ids: list[Any] = []
            weights: list[Any] = []
            term = text.encode("utf-8")
            for (sub, offset), flat in zip(self.reader.leaf_readers(), self.flats):
                if flat is not None:
                    got = flat.postings(fieldname, term)
                    if got is not None:
                        ids.append(got[0].astype(np.int64) + offset)
                        weights.append(got[1])
                elif (fieldname, text) in sub:
                    _read_postings(sub.postings(fieldname, text), offset, ids, weights)
            if not ids:
                return np.zeros(0, np.int32), np.zeros(0, np.float32)
            # int32 docnums: a third less memory per cached posting than int64, so more terms stay cached
            return np.concatenate(ids).astype(np.int32), np.concatenate(weights).astype(np.float32)

        return self._cached(("weights", fieldname, text), read)

    def positions(self, fieldname: str, text: str, docs: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """(docnums, bounds, positions): the term's positions in ``docnums[i]`` are
        ``positions[bounds[i]:bounds[i + 1]]``.

        For every posting, cached like postings (phrases of common words recur); or, given ``docs``
        (ascending), at least for those documents and not cached: in a W3 segment, a posting block
        holding none of them is skipped on its header and only their postings are decoded; a segment
        with flat postings gives all of the term's (one read, nothing to decode).
        """
        def read() -> tuple[np.ndarray, ...]:
            parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
            term = text.encode("utf-8")
            for (sub, offset), flat in zip(self.reader.leaf_readers(), self.flats):
                only = None
                if docs is not None:
                    only = docs[(docs >= offset) & (docs < offset + sub.doc_count_all())] - offset
                    if not len(only):
                        continue
                if flat is not None:
                    got = flat.positions(fieldname, term)
                    if got is not None:
                        parts.append((got[0].astype(np.int64) + offset, got[1], got[2]))
                elif (fieldname, text) in sub:
                    ids: list[Any] = []
                    values: list[bytes] = []
                    _read_values(sub.postings(fieldname, text), offset, ids, values, only)
                    parts.append((np.concatenate(ids) if ids else np.zeros(0, np.int64), *decode_many(values)))
            return _join_positions(parts)

        return read() if docs is not None else self._cached(("positions", fieldname, text), read)


def _raw(m: Any) -> Any:
    # Deleted documents are removed later by the live mask, so read the raw postings underneath.
    while isinstance(m, FilterMatcher):
        m = m.child
    return m


def _read_values(m: Any, offset: int, ids: list[Any], values: list[bytes], only: np.ndarray | None) -> None:
    """Docnums and raw CompactPositions values of every posting (or of the local docnums ``only``,
    ascending), block by block (see _read_postings)."""
    m = _raw(m)
    if not (isinstance(m, W3LeafMatcher) and not m._byteids and isinstance(m.format, CompactPositions)):
        # Every positional field of the schema is a VietText (CompactPositions) in W3 segments.
        raise TypeError(f"cannot read positions from {type(m).__name__}")
    k = 0  # with ``only``: its docs before only[k] are done
    while not m._atend and (only is None or k < len(only)):
        end = 0 if only is None else int(np.searchsorted(only, m._maxid, side="right"))
        if only is None or end > k:
            m._read_data()
            block = np.cumsum(np.asarray(m._data[0], np.int64))
            if only is None:
                ids.append(block + offset)
                values.extend(m._data[2])
            else:
                want = only[k:end]
                at = np.minimum(np.searchsorted(block, want), len(block) - 1)
                at = at[block[at] == want]
                ids.append(block[at] + offset)
                values.extend(m._data[2][j] for j in at.tolist())
                k = end
        m._next_block()


def _join_positions(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """Segments' (docnums, bounds, positions), in docnum order, as one (int32 arrays)."""
    if not parts:
        return np.zeros(0, np.int32), np.zeros(1, np.int32), np.zeros(0, np.int32)
    shifts = np.cumsum([0] + [len(p[2]) for p in parts[:-1]])
    bounds = np.concatenate([np.zeros(1, np.int64)] + [p[1][1:] + shift for p, shift in zip(parts, shifts)])
    return (np.concatenate([p[0] for p in parts]).astype(np.int32), bounds.astype(np.int32),
            np.concatenate([p[2] for p in parts]).astype(np.int32))


def _flat_for(sub: Any) -> FlatPostings | None:
    folder = getattr(sub.storage(), "folder", None)
    return flatpostings.open_for(folder, sub.segment().segment_id()) if folder else None


def _read_postings(m: Any, offset: int, ids: list[Any], weights: list[Any]) -> None:
    m = _raw(m)
    if isinstance(m, W3LeafMatcher) and not m._byteids:
        # Whole blocks at a time (Whoosh's private block API; pinned by whoosh-reloaded==2.7.5): the
        # block's ids are delta-encoded (undone with cumsum instead of Whoosh's per-id generator);
        # its weights are None (all 1.0), one float for all, or an array.
        while not m._atend:
            m._read_data()
            block_ids, block_weights = m._data[0], m._data[1]
            ids.append(np.cumsum(np.asarray(block_ids, np.int64)) + offset)
            n = len(block_ids)
            if block_weights is None:
                weights.append(np.ones(n, np.float32))
            elif isinstance(block_weights, float):
                weights.append(np.full(n, block_weights, np.float32))
            else:
                weights.append(np.asarray(block_weights, np.float32))
            m._next_block()
        return
    block_ids, block_weights = [], []
    while m.is_active():
        block_ids.append(m.id())
        block_weights.append(m.weight())
        m.next()
    ids.append(np.asarray(block_ids, np.int64) + offset)
    weights.append(np.asarray(block_weights, np.float32))


class Evaluator:
    """Evaluates a query tree to score/match vectors. ``phrase_docs`` answers phrase queries."""

    def __init__(self, stats: ReaderStats, searcher: Any, published: np.ndarray, deadline: float) -> None:
        self.stats = stats
        self.searcher = searcher
        self.published = published
        self.deadline = deadline
        self.partial = False  # set when a phrase's positions went unchecked for lack of time
        # Phrases already checked: the every-word and the any-word query of a search share them.
        self._phrases: dict[tuple[str, tuple[str, ...], float], Vectors] = {}

    def empty(self) -> Vectors:
        n = self.stats.n
        return Vectors(np.zeros(n, np.float32), np.zeros(n, bool))

    def term(self, fieldname: str, text: str, boost: float) -> Vectors:
        v = self.empty()
        ids, w = self.stats.postings(fieldname, text)
        if len(ids) == 0:
            return v
        v.match[ids] = True
        if boost:
            df = len(ids)
            n = max(1, int(self.stats.live.sum()))
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            lengths = self.stats.length_array(fieldname)[ids]
            norm = K1 * (1 - B + B * lengths / self.stats.avg_length[fieldname])
            v.score[ids] = boost * idf * w * (K1 + 1) / (w + norm)
        return v

    def run(self, q: wq.Query) -> Vectors:
        v = self._eval(q, 1.0)
        v.match &= self.stats.live
        v.score[~v.match] = 0.0
        return v

    def _eval(self, q: wq.Query, boost: float) -> Vectors:
        if isinstance(q, wq.Term):
            return self.term(q.fieldname, q.text, boost * q.boost)
        if isinstance(q, wq.ConstantScoreQuery):
            v = self._eval(q.child, 0.0)
            v.score[:] = 0.0
            return v
        if isinstance(q, wq.AndMaybe):
            req = self._eval(q.a, boost)
            opt = self._eval(q.b, boost)
            req.score += np.where(req.match, opt.score, 0.0).astype(np.float32)
            return req
        if isinstance(q, wq.AndNot):
            pos = self._eval(q.a, boost)
            neg = self._eval(q.b, 0.0)
            pos.match &= ~neg.match
            return pos
        if isinstance(q, wq.And):
            subs = [self._eval(s, boost) for s in q.subqueries]
            out = subs[0]
            for s in subs[1:]:
                out.match &= s.match
                out.score += s.score
            return out
        if isinstance(q, wq.Or):
            out = self.empty()
            for s in q.subqueries:
                v = self._eval(s, boost)
                out.match |= v.match
                out.score += v.score
            return out
        if isinstance(q, wq.Phrase):
            return self._phrase(q, boost)
        if isinstance(q, wq.Every):
            v = self.empty()
            v.match[:] = True
            return v
        if isinstance(q, wq.NumericRange):
            lo = -np.inf if q.start is None else q.start
            hi = np.inf if q.end is None else q.end
            v = self.empty()
            v.match = (self.published >= lo) & (self.published <= hi) & (self.published > 0)
            return v
        raise TypeError(f"query type {type(q).__name__} is not supported by the scorer")

    def _phrase(self, q: wq.Phrase, boost: float) -> Vectors:
        """Documents holding every word, then positions checked on those candidates only, best first.

        Whoosh's own phrase matcher walks every posting of every word; for unaccented, common syllables
        (``co the``) that is most of the index. Here only the PHRASE_CANDIDATES best-scoring candidates are
        checked (the rest are dropped); if the deadline passes first, the unchecked ones are kept as they
        are (they hold every word). Either way the result is flagged partial.
        """
        key = (q.fieldname, tuple(q.words), boost * q.boost)
        done = self._phrases.get(key)
        if done is None:
            done = self._phrases[key] = self._check_phrase(q, boost)
        return Vectors(done.score.copy(), done.match.copy())  # callers combine vectors in place

    def _check_phrase(self, q: wq.Phrase, boost: float) -> Vectors:
        words = [self._eval(wq.Term(q.fieldname, w), boost * q.boost) for w in q.words]
        out = words[0]
        for w in words[1:]:
            out.match &= w.match
            out.score += w.score
        cand = np.flatnonzero(out.match)
        if len(cand) == 0 or len(q.words) < 2:
            return out
        ranked = cand[np.argsort(-out.score[cand], kind="stable")]
        if len(ranked) > PHRASE_CANDIDATES:
            self.partial = True
        checked = np.sort(ranked[:PHRASE_CANDIDATES])
        ok = self._positions_match(q.fieldname, list(q.words), checked)
        out.match[:] = False
        out.match[ok] = True
        return out

    def _positions_match(self, fieldname: str, words: list[str], docs: np.ndarray) -> np.ndarray:
        """The docs (ascending) in which the words occur at consecutive positions.

        Every occurrence becomes a key ``doc << 32 | phrase start``; a phrase match is a key every word
        has, found with one sorted intersection per word (rarest first, each narrowing the candidates).
        """
        order = sorted(range(len(words)), key=lambda i: len(self.stats.postings(fieldname, words[i])[0]))
        keys: np.ndarray | None = None
        for i in order:
            if time.monotonic() > self.deadline:
                # Out of time: the unchecked candidates hold every word; keep them, flagged partial.
                self.partial = True
                break
            got = self._keys(fieldname, words[i], docs, i)
            keys = got if keys is None else np.intersect1d(keys, got, assume_unique=True)
            docs = np.unique(keys >> 32)
            if not len(docs):
                break
        return docs

    def _keys(self, fieldname: str, word: str, docs: np.ndarray, shift: int) -> np.ndarray:
        """``doc << 32 | position - shift`` for every occurrence of ``word`` in ``docs`` (ascending).

        A common word's positions are decoded whole and cached: phrases of common words recur, and
        their candidates touch most of its posting blocks anyway. A rarer word's are read for ``docs`` only.
        """
        if len(self.stats.postings(fieldname, word)[0]) >= CACHED_POSITIONS:
            pdocs, bounds, positions = self.stats.positions(fieldname, word)
        else:
            pdocs, bounds, positions = self.stats.positions(fieldname, word, docs)
        if not len(pdocs):
            return np.zeros(0, np.int64)
        at = np.minimum(np.searchsorted(pdocs, docs), len(pdocs) - 1)
        hit = pdocs[at] == docs
        sel = at[hit]
        counts = (bounds[sel + 1] - bounds[sel]).astype(np.int64)
        # The positions of every selected posting, concatenated: ranges bounds[sel] … bounds[sel + 1].
        first = np.repeat(bounds[sel].astype(np.int64) - (np.cumsum(counts) - counts), counts)
        pos = positions[first + np.arange(int(counts.sum()))].astype(np.int64)
        keys = (np.repeat(docs[hit], counts) << 32) + pos - shift
        return keys[pos >= shift]
