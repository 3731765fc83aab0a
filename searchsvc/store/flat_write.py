"""Writing a segment's flat postings file (the format: ``flat.py``), a field and a chunk at a time."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from searchsvc.store import flat
from searchsvc.store.flat import _HEAD, BM25_B, BM25_K1, MAGIC, SUFFIX, Section, _pread, _section

_ALIGN = 64
_READBACK = 1 << 20  # postings read back at a time to find a field's block maxima


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
        self._keys.append(np.fromiter((flat.term_key(self._field, t) for t in terms), np.uint64, len(terms)))
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
                block = docs // flat.BLOCK
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
        directory = json.dumps({"version": 3, "segment": self._path.name.removesuffix(SUFFIX), "block": flat.BLOCK,
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


def _round_up(values: np.ndarray) -> np.ndarray:
    """float64 → float32 never below the value: a bound must stay one."""
    out = values.astype(np.float32)
    low = out.astype(np.float64) < values
    out[low] = np.nextafter(out[low], np.float32(np.inf))
    return out
