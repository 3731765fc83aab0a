"""One opened generation, as search reads it: postings, positions, live documents, lengths, stored fields, ids.

Everything above the store reads an index through a Snapshot and never through Whoosh. Postings and
positions come from each segment's flat file (``flat.py``), decode-free and memory-mapped; stored fields,
ids and field lengths from Whoosh's own files. A Snapshot sees one commit: after an ``add`` or ``delete``,
``reopened()`` gives the next one (the generation's vocabulary and bigram table, written by the reindex,
stay). Reading never writes: a generation without what serving needs is refused with "run `searchsvc
reindex`", never patched up by a reader.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from whoosh import query as wq

from searchsvc.errors import IndexUnavailable
from searchsvc.model import bigrams, vocabulary
from searchsvc.model.vocabulary import Vocabulary
from searchsvc.store import columns, flat
from searchsvc.store.home import Generation
from searchsvc.store.w3 import open_index, unreadable_is_unavailable

EMPTY_POSTINGS = (np.zeros(0, np.int32), np.zeros(0, np.float32))


class Snapshot:
    def __init__(self, gen: Generation, ix: Any, searcher: Any, vocab: Vocabulary) -> None:
        self.generation = gen
        self.vocabulary = vocab
        self._ix = ix
        self._searcher = searcher
        reader = searcher.reader()
        self._leaves: list[tuple[int, flat.FlatPostings]] = []
        block_starts: list[np.ndarray] = []
        for sub, offset in reader.leaf_readers():
            segment = sub.segment().segment_id()
            found = flat.open_for(gen.path, segment, sub.doc_count_all())
            if found is None:
                raise IndexUnavailable(f"segment {segment} of {gen.path} has no readable flat postings: "
                                       "run `searchsvc reindex SOURCE...`")
            self._leaves.append((offset, found))
            block_starts.append(np.arange(offset, offset + sub.doc_count_all(), flat.BLOCK, dtype=np.int64))
        self._starts = [offset for offset, _ in self._leaves]  # each segment's first docnum
        self.n: int = reader.doc_count_all()
        # Each segment's blocks of flat.BLOCK docnums, numbered across segments: block i is docnums
        # block_bounds[i] to block_bounds[i + 1] - 1 (a segment's last block may be short).
        self.block_bounds = np.concatenate([*block_starts, np.array([self.n], np.int64)])
        self._block_base = np.cumsum([0] + [len(b) for b in block_starts[:-1]]).tolist()
        self._block_min_lengths: dict[str, np.ndarray] = {}
        self._block_published: np.ndarray | None = None
        live = np.ones(self.n, bool)
        for sub, offset in reader.leaf_readers() if reader.has_deletions() else ():
            gone = sub.deleted_docs_set  # a set per segment, not a call per document
            live[np.fromiter(gone, np.int64, len(gone)) + offset] = False
        self.live = live
        self.doc_count = int(live.sum())
        self._lengths: dict[str, tuple[np.ndarray, float]] = {}
        self._norms: dict[str, np.ndarray] = {}
        self._columns: dict[str, list[Any]] = {}
        self._published: np.ndarray | None = None
        self._stored = [columns.stored_fields(sub) for sub, _ in reader.leaf_readers()]

    @classmethod
    def open(cls, gen: Generation) -> Snapshot:
        """The generation as served now; IndexUnavailable when it cannot be read or lacks its model."""
        with unreadable_is_unavailable(gen.path):
            ix = open_index(gen.path)
            searcher = ix.searcher()
        try:
            return cls(gen, ix, searcher, _model(gen))
        except BaseException:
            searcher.close()
            raise

    def reopened(self) -> Snapshot | None:
        """The generation's latest commit, or None when this snapshot already sees it."""
        if self._searcher.up_to_date():
            return None
        # A fresh searcher, not Searcher.refresh(): that reuses segment readers and keeps their old
        # deletion sets, so a deleted article would still be found.
        with unreadable_is_unavailable(self.generation.path):
            searcher = self._ix.searcher()
        try:
            return Snapshot(self.generation, self._ix, searcher, self.vocabulary)
        except BaseException:
            searcher.close()
            raise

    def close(self) -> None:
        for _, f in self._leaves:
            f.close()
        self._searcher.close()

    @property
    def segments(self) -> int:
        return len(self._leaves)

    @property
    def commit(self) -> str:
        """Changes whenever the documents change: the generation and the commit seen (for ETags)."""
        return f"{self.generation.number}-{self._searcher.reader().generation()}-{self.n}"

    # -- postings ------------------------------------------------------------------------------

    def postings(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(docnums int32 ascending, weights float32) of a term, deleted documents included."""
        term = text.encode("utf-8")
        return self._gather(field, [segment.span(field, term) for _, segment in self._leaves])

    def postings_many(self, field: str, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """``postings`` of each of ``texts``, each segment's term table searched once for all of them."""
        keys = np.fromiter((flat.term_key(field, t.encode("utf-8")) for t in texts), np.uint64, len(texts))
        found = [segment.spans(field, keys) for _, segment in self._leaves]
        return [self._gather(field, [spans[i] for spans in found]) for i in range(len(texts))]

    def _gather(self, field: str, spans: list[tuple[int, int] | None]) -> tuple[np.ndarray, np.ndarray]:
        """One term's postings from the ``spans`` each segment holds, read into one pair of arrays."""
        total = sum(span[1] for span in spans if span is not None)
        if not total:
            return EMPTY_POSTINGS
        docs, weights = np.empty(total, np.int32), np.empty(total, np.float32)
        at = 0
        for (offset, segment), span in zip(self._leaves, spans):
            if span is not None:
                end = at + span[1]
                # Segment docnums plus the segment's offset: the snapshot's, ascending across segments.
                segment.read_into(field, span, docs[at:end], weights[at:end], offset)
                at = end
        return docs, weights

    def positions(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(docnums, bounds, positions): the term's positions in ``docnums[i]`` are
        ``positions[bounds[i]:bounds[i + 1]]`` (int32 arrays)."""
        term = text.encode("utf-8")
        found = []  # (offset, segment, span, its postings' position bounds) of each segment holding the term
        for offset, segment in self._leaves:
            span = segment.span(field, term)
            if span is not None and segment.has_positions(field):
                found.append((offset, segment, span, segment.position_bounds(field, span)))
        n = sum(span[1] for _, _, span, _ in found)
        docs, bounds = np.empty(n, np.int32), np.empty(n + 1, np.int32)
        positions = np.empty(sum(int(pb[-1] - pb[0]) for *_, pb in found), np.int32)
        at = shift = 0
        for offset, segment, span, pb in found:
            end, count = at + span[1], int(pb[-1] - pb[0])
            segment.read_into(field, span, docs[at:end], None, offset)
            bounds[at:end] = pb[:-1] - pb[0] + shift
            segment.read_positions_into(field, int(pb[0]), positions[shift:shift + count])
            at, shift = end, shift + count
        bounds[n] = shift
        return docs, bounds, positions

    def positions_of(self, field: str, text: str, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The term's positions in ``docs`` (docnums, ascending) only: which of them hold it (bool per doc),
        how many positions each of those has, and the positions, concatenated in docnum order (int64).
        A phrase check reads its candidates' positions, not the whole list's: a common word's is most of
        the archive."""
        term = text.encode("utf-8")
        held = np.zeros(len(docs), bool)
        counts: list[np.ndarray] = []
        positions: list[np.ndarray] = []
        cuts = np.searchsorted(docs, [*self._starts, self.n])
        for (offset, segment), lo, hi in zip(self._leaves, cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            if lo == hi or not segment.has_positions(field):
                continue
            span = segment.span(field, term)
            if span is not None:
                got, c, pos = segment.positions_at(field, span, docs[lo:hi] - offset)
                held[lo:hi] = got
                counts.append(c)
                positions.append(pos)
        if not counts:
            return held, np.zeros(0, np.int64), np.zeros(0, np.int64)
        return held, np.concatenate(counts), np.concatenate(positions)

    def block_maxima(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(blocks int64 ascending, float32 maxima): the blocks (numbered as ``block_bounds``) holding the
        term, deleted documents included, and the term's largest weight in each."""
        term = text.encode("utf-8")
        blocks: list[np.ndarray] = []
        maxima: list[np.ndarray] = []
        for (_, segment), base in zip(self._leaves, self._block_base, strict=True):
            got = segment.block_maxima(field, term)
            if got is not None:
                blocks.append(got[0].astype(np.int64) + base)
                maxima.append(got[1])
        if not blocks:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(blocks), np.concatenate(maxima)

    def frequency_bounds(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(blocks int64 ascending, float64 bounds): per block holding the term, an upper bound of BM25's
        frequency part ``w (K1 + 1) / (w + K1 (1 - B + B length / average))`` over its documents there, at
        this snapshot's average length (a query multiplies it by idf and boost).

        Two bounds, the tighter kept: the flat file's exact maxima at its segment's average, corrected to
        this one (tight for the large segments of a reindex, loose for a small ``add`` segment whose
        average is far from the index's); and the largest weight with the block's shortest document."""
        term = text.encode("utf-8")
        average = self.lengths(field)[1]
        k1, b = flat.BM25_K1, flat.BM25_B
        blocks: list[np.ndarray] = []
        bounds: list[np.ndarray] = []
        for (_, segment), base in zip(self._leaves, self._block_base, strict=True):
            got = segment.block_maxima(field, term)
            if got is None:
                continue
            at = got[0].astype(np.int64) + base
            most = got[1].astype(np.float64)
            shortest = self.block_min_lengths(field)[at].astype(np.float64)
            bound = most * (k1 + 1) / (most + k1 * (1 - b + b * shortest / average))
            exact = segment.frequency_maxima(field, term)
            if exact is not None:
                factor = flat.bound_factor(segment.bm25_avg[field], average)
                bound = np.minimum(bound, exact.astype(np.float64) * factor)
            blocks.append(at)
            bounds.append(bound)
        if not blocks:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        return np.concatenate(blocks), np.concatenate(bounds)

    def block_min_lengths(self, field: str) -> np.ndarray:
        """The shortest document of each block in ``field`` (float32): BM25 favours short documents, so
        it bounds a block's scores from above."""
        got = self._block_min_lengths.get(field)
        if got is None:
            got = self._block_min_lengths[field] = np.minimum.reduceat(self.lengths(field)[0], self.block_bounds[:-1])
        return got

    @property
    def block_published(self) -> np.ndarray:
        """The latest publication time in each block (the recency lift grows with it)."""
        if self._block_published is None:
            self._block_published = np.maximum.reduceat(self.published, self.block_bounds[:-1])
        return self._block_published

    def doc_frequency(self, field: str, text: str) -> int:
        """Live documents holding the term."""
        return self.live_count(self.postings(field, text)[0])

    def live_count(self, ids: np.ndarray) -> int:
        """How many of ``ids`` are live: a scan only when something is deleted (a common word's list holds most
        of the archive, read again by every search the term cache cannot serve)."""
        return len(ids) if self.doc_count == self.n else int(np.count_nonzero(self.live[ids]))

    def lengths(self, field: str) -> tuple[np.ndarray, float]:
        """Each document's length in ``field`` (float32) and the live documents' average (at least 1)."""
        got = self._lengths.get(field)
        if got is None:
            arr = self._per_segment(lambda sub: columns.field_lengths(sub, field), np.float32)
            got = (arr, max(1.0, float(arr[self.live].sum()) / max(1, self.doc_count)))
            self._lengths[field] = got
        return got

    def length_norm(self, field: str) -> np.ndarray:
        """BM25's length normalisation ``K1 (1 - B + B length / average)`` of each document (float32, the
        same arithmetic per document as on a gathered list): a term's frequency part is then
        ``w (K1 + 1) / (w + norm)``, half the passes over a common word's list."""
        got = self._norms.get(field)
        if got is None:
            lengths, average = self.lengths(field)
            k1, b = flat.BM25_K1, flat.BM25_B
            got = self._norms[field] = k1 * (1 - b + b * lengths / average)
        return got

    def terms(self, field: str) -> Iterator[str]:
        """Every term of ``field`` in the index (deleted documents' included)."""
        for term in self._searcher.reader().field_terms(field):
            yield term.decode("utf-8") if isinstance(term, bytes) else term

    # -- documents ------------------------------------------------------------------------------

    def stored(self, docnum: int) -> dict[str, Any]:
        if not 0 <= docnum < self.n:
            raise IndexError(f"docnum {docnum} is not in 0..{self.n - 1}")
        i = bisect_right(self._starts, docnum) - 1
        return self._stored[i](docnum - self._starts[i])

    def docnum(self, article_id: str) -> int | None:
        """The live document of an id, or None."""
        # docs_for_query skips deleted documents; Searcher.document_number() does not.
        for docnum in self._searcher.docs_for_query(wq.Term("id", article_id)):
            return int(docnum)
        return None

    def documents(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(docnum, stored fields) of every live document."""
        yield from self._searcher.reader().iter_docs()

    def column(self, name: str, default: Any) -> list[Any]:
        """A sortable field's value for every docnum, read once.

        Read segment by segment: Whoosh's multi-segment column reader fails when one segment has no
        value at all for the field (a batch of articles without dates).
        """
        col = self._columns.get(name)
        if col is None:
            col = []
            for sub, _offset in self._searcher.reader().leaf_readers():
                if sub.has_column(name):
                    col.extend(sub.column_reader(name))
                else:
                    col.extend([default] * sub.doc_count_all())
            self._columns[name] = col
        return col

    def _per_segment(self, read: Callable[[Any], np.ndarray], dtype: Any) -> np.ndarray:
        """One array per docnum from ``read`` of each segment's reader."""
        got = [read(sub) for sub, _ in self._searcher.reader().leaf_readers()]
        return np.concatenate(got).astype(dtype, copy=False) if got else np.zeros(0, dtype)

    @property
    def published(self) -> np.ndarray:
        """Publication time (epoch seconds) per docnum; 0 when unknown."""
        if self._published is None:
            # Whoosh fills a missing NUMERIC value with the type's maximum.
            raw = self._per_segment(lambda sub: columns.int_column(sub, "published_ts", 0), np.int64)
            self._published = np.where((raw > 0) & (raw < 2**62), raw, 0)
        return self._published


def _model(gen: Generation) -> Vocabulary:
    vocab = vocabulary.load(gen.path)
    table = bigrams.load(gen.path)
    if vocab is None or table is None:
        raise IndexUnavailable(f"index generation {gen.path} has no readable vocabulary or bigram table: "
                               "run `searchsvc reindex SOURCE...`")
    vocab.bigrams = table
    return vocab
