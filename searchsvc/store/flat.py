"""Decode-free postings: each segment's posting lists again as flat arrays in one memory-mapped file.

Whoosh's W3 postings are pickled, zlib-compressed blocks: a common word takes tens of milliseconds to decode,
and a serving worker either decodes it again on every query or keeps it decoded in its own memory. So the
reindex also writes, beside each segment, the same postings as plain arrays in one file,
``<segment id>.flat``:

* per field, ``docs`` (uint32, segment docnums, ascending within a term) and ``weights`` (float32, what
  the W3 block stores) per posting; for positional fields ``pbounds`` (uint32, one more than the
  postings) and ``positions`` (uint32): posting ``j``'s are ``positions[pbounds[j]:pbounds[j + 1]]``;
* per field, the block maxima that let a query skip what cannot rank (``search/prune.py``): for each
  term and each block of BLOCK segment docnums holding it, ``bblocks`` (uint32, the block: docnum //
  BLOCK, ascending within a term) and ``bmax`` (float32, the largest weight of the term in the block).
  A field with positions also has ``bfreq`` (float32, rounded up): the largest BM25 frequency part
  ``w (K1 + 1) / (w + K1 (1 - B + B L / avg))`` of the term in the block, with ``L`` the document's
  count of positions (Whoosh records lengths rounded up, so never less) and ``avg`` the segment's
  average, recorded as ``bm25_avg``; the serving average differs, and ``bound_factor`` corrects for it.
  idf and boosts depend on the query and the live documents, so they are applied when a query runs;
* the term table: ``keys``, uint64 per (field, term), sorted (a blake2b hash of ``field NUL term``), with
  ``starts`` and ``counts`` (int64) into its field's postings and ``bstarts`` and ``bcounts`` into its
  block maxima;
* a JSON directory of those arrays (offset, dtype, length), which the first bytes point to.

The file is memory-mapped: a term costs a binary search in the keys and a copy of its pages into the caller's
arrays, without a system call, and a phrase check gathers only its candidates' positions. The pages are the
kernel's page cache, shared by every worker (and by the next reindex's readers), and nothing is decoded.
The name matches Whoosh's segment file pattern, so Whoosh deletes the file with its segment.
``flat_write.FlatWriter`` writes it: the reindex beside each segment it builds (``build.py``), and Whoosh's
own writer, which ``add`` and its merges use, through ``w3.FlatTee`` before it publishes the segment.
Serving reads postings and positions from these files only (``snapshot.py``): a segment without one cannot
be served, and a write that cannot make one fails.

Two (field, term) pairs of a segment with the same 64-bit key fail the write (about 10^-14 a pair); a term
absent from a segment sharing a present term's key (as rare) would get that term's postings.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from searchsvc.arrays import concat_ranges

SUFFIX = ".flat"
MAGIC = b"SVFLAT3\n"
_HEAD = len(MAGIC) + 16  # magic, then the directory's offset and length (uint64 each)
BLOCK = 128  # documents per block maximum: small enough to bound tightly, large enough to stay few
BM25_K1 = 1.2  # BM25's parameters (search/evaluate.py scores with them): block maxima depend on them
BM25_B = 0.75
Section = list[Any]  # [offset, dtype, length]


def term_key(fieldname: str, term: bytes) -> int:
    # Stable across processes (str.__hash__ is salted): a worker writes, every other process reads.
    digest = hashlib.blake2b(fieldname.encode("utf-8") + b"\0" + term, digest_size=8).digest()
    return int.from_bytes(digest, "little")


class FlatPostings:
    """One segment's ``.flat`` file, mapped for reading; safe to share between threads (reads only)."""

    def __init__(self, path: Path) -> None:
        self._arrays: dict[str, dict[str, np.ndarray]] = {}
        fd = os.open(path, os.O_RDONLY)
        try:
            head = os.pread(fd, _HEAD, 0)
            if head[: len(MAGIC)] != MAGIC:
                raise ValueError(f"{path} is not a flat postings file")
            at = int.from_bytes(head[len(MAGIC):len(MAGIC) + 8], "little")
            size = int.from_bytes(head[len(MAGIC) + 8:], "little")
            meta = json.loads(os.pread(fd, size, at))
            self.segment: str = meta["segment"]
            self.max_doc: int = meta["max_doc"]
            if meta["block"] != BLOCK:  # readers number blocks by this code's BLOCK
                raise ValueError(f"{path} has blocks of {meta['block']} documents, not {BLOCK}")
            self.bm25_avg: dict[str, float] = {k: float(v) for k, v in meta["bm25_avg"].items()}
            self._fields = {name: {kind: _section(sec) for kind, sec in secs.items()}
                            for name, secs in meta["fields"].items()}
            table = {kind: _section(sec) for kind, sec in meta["table"].items()}
            sections = [*table.values(), *(sec for secs in self._fields.values() for sec in secs.values())]
            end = max([at + size] + [off + dt.itemsize * n for off, dt, n in sections])
            if os.fstat(fd).st_size < end:
                raise ValueError(f"{path} is truncated")
            # The whole file is mapped once: a term's postings are then views and copies of its pages,
            # without a system call (a query reads dozens of lists from each segment), and a phrase check
            # gathers the positions of its candidates only, not the whole list's.
            whole = _mapped(path)
            self._keys, self._starts, self._counts, self._bstarts, self._bcounts = (
                _view(whole, table[k]) for k in ("keys", "starts", "counts", "bstarts", "bcounts"))
            self._arrays = {name: {kind: _view(whole, sec) for kind, sec in secs.items()}
                            for name, secs in self._fields.items()}
        finally:
            os.close(fd)

    def close(self) -> None:
        # The mapping goes with the last array viewing it: arrays a caller still holds stay valid.
        self._arrays = {}

    def _row(self, fieldname: str, term: bytes) -> int | None:
        if fieldname not in self._fields:
            return None
        key = np.uint64(term_key(fieldname, term))
        i = int(np.searchsorted(self._keys, key))
        if i == len(self._keys) or self._keys[i] != key:
            return None
        return i

    def _read(self, fieldname: str, kind: str, start: int, n: int) -> np.ndarray:
        """A copy of ``n`` items of one of the field's arrays from ``start``."""
        return self._arrays[fieldname][kind][start:start + n].copy()

    def block_maxima(self, fieldname: str, term: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """(blocks, maxima): the blocks of BLOCK segment docnums holding the term (ascending; block ``b``
        is docnums ``b * BLOCK`` to ``b * BLOCK + BLOCK - 1``) and its largest weight in each; None when
        the segment does not hold it."""
        i = self._row(fieldname, term)
        if i is None:
            return None
        start, n = int(self._bstarts[i]), int(self._bcounts[i])
        return self._read(fieldname, "bblocks", start, n), self._read(fieldname, "bmax", start, n)

    def frequency_maxima(self, fieldname: str, term: bytes) -> np.ndarray | None:
        """Per block of ``block_maxima``, the term's largest BM25 frequency part at the segment's average
        length ``bm25_avg[fieldname]``; None for a field without positions (or a term not here)."""
        i = self._row(fieldname, term)
        if i is None or fieldname not in self.bm25_avg:
            return None
        return self._read(fieldname, "bfreq", int(self._bstarts[i]), int(self._bcounts[i]))

    def spans(self, fieldname: str, keys: np.ndarray) -> list[tuple[int, int] | None]:
        """Where the postings of each term, given by its ``term_key``, lie in the field's arrays (start,
        count); None for a term the segment lacks. One search of the term table for all the terms."""
        if fieldname not in self._fields or not len(self._keys):
            return [None] * len(keys)
        at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        rows = zip((self._keys[at] == keys).tolist(), self._starts[at].tolist(), self._counts[at].tolist())
        return [(start, n) if held else None for held, start, n in rows]

    def span(self, fieldname: str, term: bytes) -> tuple[int, int] | None:
        """``spans`` of one term (a scalar search: cheaper for one than the vector one)."""
        i = self._row(fieldname, term)
        return None if i is None else (int(self._starts[i]), int(self._counts[i]))

    def read_into(self, fieldname: str, span: tuple[int, int], docs: np.ndarray, weights: np.ndarray | None,
                  offset: int = 0) -> None:
        """The postings at ``span`` copied into ``docs`` (int32, each plus ``offset``) and ``weights``
        (float32, unless None), each as long as the span: a term's postings of every segment land in one
        array, numbered across segments."""
        arrays, (start, n) = self._arrays[fieldname], span
        np.add(arrays["docs"][start:start + n], offset, out=docs, casting="unsafe")
        if weights is not None:
            weights[:] = arrays["weights"][start:start + n]

    def has_positions(self, fieldname: str) -> bool:
        return "pbounds" in self._arrays.get(fieldname, {})

    def position_bounds(self, fieldname: str, span: tuple[int, int]) -> np.ndarray:
        """Where each posting's positions at ``span`` start in the field's positions, and where the last
        one's end (int64, one more than the postings); the field must have positions."""
        return self._arrays[fieldname]["pbounds"][span[0]:span[0] + span[1] + 1].astype(np.int64)

    def positions_at(self, fieldname: str, span: tuple[int, int], docs: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For ``docs`` (segment docnums, ascending): which of them hold the term at ``span`` (bool), how
        many positions each of those has (int64), and those positions, concatenated (int64). Only their
        own bounds and positions are read, however long the list."""
        arrays, (start, n) = self._arrays[fieldname], span
        held_docs = arrays["docs"][start:start + n]
        docs = docs.astype(held_docs.dtype)  # one type: a search across two would convert the whole list
        at = np.minimum(np.searchsorted(held_docs, docs), n - 1)
        held = held_docs[at] == docs
        sel = at[held] + start
        pbounds = arrays["pbounds"]
        first, counts = pbounds[sel].astype(np.int64), (pbounds[sel + 1] - pbounds[sel]).astype(np.int64)
        return held, counts, arrays["positions"][concat_ranges(first, counts)].astype(np.int64)

    def read_positions_into(self, fieldname: str, start: int, out: np.ndarray) -> None:
        """The field's positions from ``start`` copied into ``out`` (4-byte integers)."""
        out.view(np.uint32)[:] = self._arrays[fieldname]["positions"][start:start + len(out)]


def bound_factor(segment_average: float, average: float) -> float:
    """What makes a block maximum of the BM25 frequency part, taken at the segment's average length, an upper
    bound at another average: a larger average shortens every document (at most by their ratio), a
    smaller one lengthens them (never a larger score)."""
    return max(1.0, average / segment_average)


def _pread(fd: int, section: tuple[int, np.dtype[Any], int], start: int, n: int) -> np.ndarray:
    out = np.empty(n, section[1])
    _pread_into(fd, section, start, out)
    return out


def _pread_into(fd: int, section: tuple[int, np.dtype[Any], int], start: int, out: np.ndarray) -> None:
    offset, dtype, _ = section
    if out.dtype != dtype:
        raise TypeError(f"a {dtype} section read into {out.dtype}")
    if len(out) and os.preadv(fd, [out.data], offset + start * dtype.itemsize) != out.nbytes:
        raise OSError("flat postings file truncated")


def _section(sec: Section) -> tuple[int, np.dtype[Any], int]:
    return int(sec[0]), np.dtype(sec[1]), int(sec[2])


def _mapped(path: Path) -> np.ndarray:
    # A plain (read-only) array over the mapping: indexing a memmap subclass costs a Python call per lookup.
    return np.memmap(path, dtype=np.uint8, mode="r").view(np.ndarray)


def _view(whole: np.ndarray, section: tuple[int, np.dtype[Any], int]) -> np.ndarray:
    offset, dtype, n = section
    return whole[offset:offset + dtype.itemsize * n].view(dtype)


def path_for(folder: Path | str, segment_id: str) -> Path:
    """Where a segment's flat postings live: beside its W3 files, named like them (Whoosh cleans it up)."""
    return Path(folder) / f"{segment_id}{SUFFIX}"


def open_for(folder: Path | str, segment_id: str, doc_count: int) -> FlatPostings | None:
    """The flat postings of the segment ``segment_id`` of ``doc_count`` documents, or None (no file, not
    readable, or another segment's: the generation cannot be served)."""
    try:
        found = FlatPostings(path_for(folder, segment_id))
    except (OSError, ValueError, KeyError, TypeError):  # missing, foreign, truncated, a garbled directory
        return None
    if found.segment != segment_id or found.max_doc >= doc_count:
        found.close()
        return None
    return found
