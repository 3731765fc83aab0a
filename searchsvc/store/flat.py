"""Decode-free postings: each segment's posting lists again as flat arrays, read with one ``pread`` a term.

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

A term costs a binary search in the (memory-mapped) keys and two or three ``pread`` calls into fresh arrays:
the file's pages stay in the kernel's page cache, shared by every worker and never counted in a worker's
memory, and nothing is decoded. The name matches Whoosh's segment file pattern, so Whoosh deletes the file
with its segment. The reindex writes the file beside each segment it builds (``build.py``); Whoosh's own
writer, which ``add`` and its merges use, writes one through ``w3.FlatTee`` before it publishes the
segment. Serving reads postings and positions from these files only (``snapshot.py``): a segment without
one cannot be served, and a write that cannot make one fails.

Two (field, term) pairs of a segment with the same 64-bit key fail the write (about 10^-14 a pair); a term
absent from a segment sharing a present term's key (as rare) would get that term's postings.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

SUFFIX = ".flat"
MAGIC = b"SVFLAT3\n"
_HEAD = len(MAGIC) + 16  # magic, then the directory's offset and length (uint64 each)
_ALIGN = 64
BLOCK = 128  # documents per block maximum: small enough to bound tightly, large enough to stay few
BM25_K1 = 1.2  # BM25's parameters (search/evaluate.py scores with them): block maxima depend on them
BM25_B = 0.75
_READBACK = 1 << 20  # postings read back at a time to find a field's block maxima
Section = list[Any]  # [offset, dtype, length]


def term_key(fieldname: str, term: bytes) -> int:
    # Stable across processes (str.__hash__ is salted): a worker writes, every other process reads.
    digest = hashlib.blake2b(fieldname.encode("utf-8") + b"\0" + term, digest_size=8).digest()
    return int.from_bytes(digest, "little")


class FlatWriter:
    """Writes one segment's file a field at a time, each field's postings a chunk at a time (a reindex
    worker holds one chunk, not the field): the field's arrays are reserved first, sized from what the
    caller knows, then filled in order; the term table and the directory come last, and ``finish``
    publishes the file atomically."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._end = _HEAD
        self._fields: dict[str, dict[str, Section]] = {}
        self._keys: list[np.ndarray] = []
        self._starts: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []
        self._bstarts: list[np.ndarray] = []
        self._bcounts: list[np.ndarray] = []
        self._doclen = np.zeros(0, np.int64)  # the open field's positions per docnum (its BM25 length)
        self._bm25_avg: dict[str, float] = {}
        self._fits = True
        self._field = ""
        self._filled: dict[str, int] = {}  # per array of the open field: items written
        self._positions_done = 0  # positions of the open field written so far
        self._max_doc = -1  # recorded, with the segment's id, so a reader can tell the file is its segment's

    def _reserve(self, dtype: Any, n: int) -> Section:
        at = self._end + (-self._end % _ALIGN)
        self._end = at + np.dtype(dtype).itemsize * n
        return [at, np.dtype(dtype).str, n]

    def _append(self, kind: str, a: np.ndarray) -> None:
        at, dtype, n = self._fields[self._field][kind]
        done = self._filled[kind]
        if done + len(a) > n:
            raise ValueError(f"more {kind} than reserved for field {self._field!r}")
        data = np.ascontiguousarray(a, np.dtype(dtype))
        self._write(data.data, at + done * data.itemsize)
        self._filled[kind] = done + len(a)

    def _write(self, data: Any, at: int) -> None:
        view = memoryview(data).cast("B")
        while len(view):  # a regular file takes it whole, or the disk is full (an OSError)
            n = os.pwrite(self._fd, view, at)
            view, at = view[n:], at + n

    def start_field(self, fieldname: str, postings: int, positions: int | None = None) -> None:
        """A field of ``postings`` postings and, if it has positions, ``positions`` of them in all."""
        sections = {"docs": self._reserve(np.uint32, postings), "weights": self._reserve(np.float32, postings)}
        if positions is not None:
            self._fits = self._fits and positions < 2**32  # uint32 bounds
            sections["pbounds"] = self._reserve(np.uint32, postings + 1)
            sections["positions"] = self._reserve(np.uint32, positions)
        self._field = fieldname
        self._fields[fieldname] = sections
        self._filled = dict.fromkeys(sections, 0)
        self._positions_done = 0
        self._doclen = np.zeros(0, np.int64)
        if positions is not None:
            self._append("pbounds", np.zeros(1, np.uint32))

    def add_postings(self, docs: np.ndarray, weights: np.ndarray, pcounts: np.ndarray | None = None,
                     positions: np.ndarray | None = None) -> None:
        """The field's next postings, in term order: documents, weights and, for a field with positions,
        each posting's count of them and the positions themselves."""
        self._append("docs", docs)
        self._append("weights", weights)
        if len(docs):
            self._max_doc = max(self._max_doc, int(docs.max()))
        if pcounts is not None and positions is not None:
            bounds = np.cumsum(pcounts, dtype=np.int64) + self._positions_done
            self._append("pbounds", bounds.astype(np.uint32))
            self._append("positions", positions)
            self._positions_done += int(pcounts.sum())
            if len(docs):
                counts = np.bincount(docs, weights=pcounts).astype(np.int64)
                if len(counts) > len(self._doclen):
                    self._doclen = np.concatenate([self._doclen, np.zeros(len(counts) - len(self._doclen), np.int64)])
                self._doclen[:len(counts)] += counts

    def end_field(self, terms: Sequence[bytes], bounds: np.ndarray) -> None:
        """The field's terms, in the order their postings were given: ``terms[i]``'s are postings
        ``bounds[i]`` to ``bounds[i + 1]``."""
        if any(self._filled[k] != n for k, (_, _, n) in self._fields[self._field].items()):
            raise ValueError(f"field {self._field!r} got fewer postings than reserved")
        self._keys.append(np.fromiter((term_key(self._field, t) for t in terms), np.uint64, len(terms)))
        self._starts.append(np.asarray(bounds[:-1], np.int64))
        self._counts.append(np.diff(bounds).astype(np.int64))
        self._block_maxima(np.asarray(bounds, np.int64))

    def _block_maxima(self, bounds: np.ndarray) -> None:
        """Each term's largest weight per block of BLOCK docnums, from the postings just written: read back
        a run of whole terms at a time, because the callers stream postings without term boundaries and a
        worker must not hold a whole field."""
        sections = self._fields[self._field]
        lengths = self._doclen.astype(np.float64)
        average = max(1.0, float(lengths.mean())) if "pbounds" in sections and len(lengths) else None
        if average is not None:
            self._bm25_avg[self._field] = average
        blocks: list[np.ndarray] = []
        maxima: list[np.ndarray] = []
        frequency: list[np.ndarray] = []
        per_term: list[np.ndarray] = []
        fd = os.open(self._tmp, os.O_RDONLY)
        try:
            first = 0
            while first < len(bounds) - 1:
                last = max(first + 1, int(np.searchsorted(bounds, bounds[first] + _READBACK, side="right")) - 1)
                lo, hi = int(bounds[first]), int(bounds[last])
                docs = _pread(fd, _section(sections["docs"]), lo, hi - lo)
                weights = _pread(fd, _section(sections["weights"]), lo, hi - lo)
                term = np.repeat(np.arange(last - first), np.diff(bounds[first:last + 1]))
                block = docs // BLOCK
                cut = np.flatnonzero((term[1:] != term[:-1]) | (block[1:] != block[:-1])) + 1
                runs = np.concatenate([np.zeros(min(1, len(docs)), np.int64), cut])
                blocks.append(block[runs])
                maxima.append(np.maximum.reduceat(weights, runs) if len(runs) else weights[:0])
                if average is not None and len(runs):
                    w = weights.astype(np.float64)
                    norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[docs] / average)
                    frequency.append(_round_up(np.maximum.reduceat(w * (BM25_K1 + 1) / (w + norm), runs)))
                per_term.append(np.bincount(term[runs], minlength=last - first))
                first = last
        finally:
            os.close(fd)
        counts = _cat(per_term)
        starts = np.cumsum(counts) - counts
        self._bstarts.append(starts.astype(np.int64))
        self._bcounts.append(counts.astype(np.int64))
        arrays = [("bblocks", blocks, np.uint32), ("bmax", maxima, np.float32)]
        if average is not None:
            arrays.append(("bfreq", frequency, np.float32))
        for kind, values, dtype in arrays:
            data = np.ascontiguousarray(np.concatenate(values) if values else np.zeros(0), dtype)
            sections[kind] = self._reserve(dtype, len(data))
            self._write(data.data, sections[kind][0])

    def finish(self) -> None:
        """Publishes the file; ValueError, leaving none, when two terms share a key or it cannot address its
        positions (serving reads nothing else, so the segment must not be published without it)."""
        keys = np.concatenate(self._keys) if self._keys else np.zeros(0, np.uint64)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        if not self._fits or (len(keys) > 1 and bool((keys[1:] == keys[:-1]).any())):
            self.cancel()
            raise ValueError(f"{self._path}: two terms share a 64-bit key, or the positions do not fit")
        table: dict[str, Section] = {}
        columns = (("keys", keys), ("starts", _cat(self._starts)[order]), ("counts", _cat(self._counts)[order]),
                   ("bstarts", _cat(self._bstarts)[order]), ("bcounts", _cat(self._bcounts)[order]))
        for kind, values in columns:
            table[kind] = self._reserve(values.dtype, len(values))
            self._write(np.ascontiguousarray(values).data, table[kind][0])
        directory = json.dumps({"version": 3, "segment": self._path.name.removesuffix(SUFFIX), "block": BLOCK,
                                "bm25_avg": self._bm25_avg, "max_doc": self._max_doc, "fields": self._fields,
                                "table": table}).encode("utf-8")
        self._write(directory, self._end)
        self._write(MAGIC + self._end.to_bytes(8, "little") + len(directory).to_bytes(8, "little"), 0)
        os.close(self._fd)
        self._fd = -1
        os.replace(self._tmp, self._path)

    def cancel(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._tmp.unlink(missing_ok=True)


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


class FlatPostings:
    """One segment's ``.flat`` file, open for reading; safe to share between threads (``pread`` only)."""

    def __init__(self, path: Path) -> None:
        self._fd = -1
        self._fd = os.open(path, os.O_RDONLY)
        try:
            head = os.pread(self._fd, _HEAD, 0)
            if head[: len(MAGIC)] != MAGIC:
                raise ValueError(f"{path} is not a flat postings file")
            at = int.from_bytes(head[len(MAGIC):len(MAGIC) + 8], "little")
            size = int.from_bytes(head[len(MAGIC) + 8:], "little")
            meta = json.loads(os.pread(self._fd, size, at))
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
            if os.fstat(self._fd).st_size < end:
                raise ValueError(f"{path} is truncated")
            # The term table is searched: mapped, so only the pages a lookup touches are read.
            self._keys, self._starts, self._counts, self._bstarts, self._bcounts = (
                _mapped(path, table[k]) for k in ("keys", "starts", "counts", "bstarts", "bcounts"))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()

    def _row(self, fieldname: str, term: bytes) -> int | None:
        if fieldname not in self._fields:
            return None
        key = np.uint64(term_key(fieldname, term))
        i = int(np.searchsorted(self._keys, key))
        if i == len(self._keys) or self._keys[i] != key:
            return None
        return i

    def _find(self, fieldname: str, term: bytes) -> tuple[dict[str, tuple[int, np.dtype[Any], int]], int, int] | None:
        i = self._row(fieldname, term)
        if i is None:
            return None
        return self._fields[fieldname], int(self._starts[i]), int(self._counts[i])

    def _read(self, section: tuple[int, np.dtype[Any], int], start: int, n: int) -> np.ndarray:
        return _pread(self._fd, section, start, n)

    def block_maxima(self, fieldname: str, term: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """(blocks, maxima): the blocks of BLOCK segment docnums holding the term (ascending; block ``b``
        is docnums ``b * BLOCK`` to ``b * BLOCK + BLOCK - 1``) and its largest weight in each; None when
        the segment does not hold it."""
        i = self._row(fieldname, term)
        if i is None:
            return None
        sections, start, n = self._fields[fieldname], int(self._bstarts[i]), int(self._bcounts[i])
        return self._read(sections["bblocks"], start, n), self._read(sections["bmax"], start, n)

    def frequency_maxima(self, fieldname: str, term: bytes) -> np.ndarray | None:
        """Per block of ``block_maxima``, the term's largest BM25 frequency part at the segment's average
        length ``bm25_avg[fieldname]``; None for a field without positions (or a term not here)."""
        i = self._row(fieldname, term)
        if i is None or fieldname not in self.bm25_avg:
            return None
        return self._read(self._fields[fieldname]["bfreq"], int(self._bstarts[i]), int(self._bcounts[i]))

    def postings(self, fieldname: str, term: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """(docs, weights) of the term in this segment, docs ascending; None when it has none."""
        found = self._find(fieldname, term)
        if found is None:
            return None
        sections, start, n = found
        return self._read(sections["docs"], start, n), self._read(sections["weights"], start, n)

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
        found = self._find(fieldname, term)
        return None if found is None else (found[1], found[2])

    def read_into(self, fieldname: str, span: tuple[int, int], docs: np.ndarray, weights: np.ndarray | None) -> None:
        """The postings at ``span`` read straight into ``docs`` (4-byte integers) and ``weights`` (float32,
        unless None), each as long as the span: a term's postings of every segment land in one array."""
        sections, start = self._fields[fieldname], span[0]
        _pread_into(self._fd, sections["docs"], start, docs.view(np.uint32))
        if weights is not None:
            _pread_into(self._fd, sections["weights"], start, weights)

    def position_bounds(self, fieldname: str, span: tuple[int, int]) -> np.ndarray | None:
        """Where each posting's positions at ``span`` start in the field's positions, and where the last
        one's end (int64, one more than the postings); None for a field without positions."""
        sections = self._fields[fieldname]
        if "pbounds" not in sections:
            return None
        return self._read(sections["pbounds"], span[0], span[1] + 1).astype(np.int64)

    def read_positions_into(self, fieldname: str, start: int, out: np.ndarray) -> None:
        """The field's positions from ``start`` read straight into ``out`` (4-byte integers)."""
        _pread_into(self._fd, self._fields[fieldname]["positions"], start, out.view(np.uint32))

    def positions(self, fieldname: str, term: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(docs, bounds, positions): the term's positions in ``docs[i]`` are
        ``positions[bounds[i]:bounds[i + 1]]``; None when the segment does not hold it (or the field has
        no positions)."""
        found = self._find(fieldname, term)
        if found is None or "pbounds" not in found[0]:
            return None
        sections, start, n = found
        pb = self._read(sections["pbounds"], start, n + 1).astype(np.int64)
        positions = self._read(sections["positions"], int(pb[0]), int(pb[-1] - pb[0]))
        return self._read(sections["docs"], start, n), pb - pb[0], positions


def bound_factor(segment_average: float, average: float) -> float:
    """What makes a block maximum of the BM25 frequency part, taken at the segment's average length, an upper
    bound at another average: a larger average shortens every document (at most by their ratio), a
    smaller one lengthens them (never a larger score)."""
    return max(1.0, average / segment_average)


def _round_up(values: np.ndarray) -> np.ndarray:
    """float64 → float32 never below the value: a bound must stay one."""
    out = values.astype(np.float32)
    low = out.astype(np.float64) < values
    out[low] = np.nextafter(out[low], np.float32(np.inf))
    return out


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


def _mapped(path: Path, section: tuple[int, np.dtype[Any], int]) -> np.ndarray:
    offset, dtype, n = section
    if n == 0:
        return np.zeros(0, dtype)
    # A plain array over the mapping: indexing a memmap subclass costs a Python call per lookup.
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n,)).view(np.ndarray)


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
