"""Decode-free postings: each segment's posting lists again as flat arrays, read with one ``pread`` a term.

Whoosh's W3 postings are pickled, zlib-compressed blocks: a common word takes tens of milliseconds to decode,
and a serving worker either decodes it again on every query or keeps it decoded in its own memory. So the
reindex also writes, beside each segment, the same postings as plain arrays in one file,
``<segment id>.flat``:

* ``keys``: uint64 per (field, term), sorted (a blake2b hash of ``field NUL term``), with ``starts`` and
  ``counts`` (int64) into the posting arrays;
* ``docs`` (uint32, segment docnums, ascending within a term) and ``weights`` (float32, what the W3 block
  stores) per posting;
* ``pbounds`` (uint32, one more than the postings) and ``positions`` (uint32): the positions of posting
  ``j`` are ``positions[pbounds[j]:pbounds[j + 1]]``, empty for fields without positions.

A term costs a binary search in the (memory-mapped) keys and two or three ``pread`` calls into fresh arrays:
the file's pages stay in the kernel's page cache, shared by every worker and never counted in a worker's
memory, and nothing is decoded. The name matches Whoosh's segment file pattern, so Whoosh deletes the file
with its segment. A segment without one (written by ``add``, or merged) is read from its W3 postings.

Two (field, term) pairs of a segment with the same 64-bit key make the writer skip the file (the segment is
read from W3); a term absent from a segment sharing a present term's key (about 10^-14 a lookup) would get
that term's postings.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SUFFIX = ".flat"
MAGIC = b"SVFLAT1\n"
_ALIGN = 64
_ARRAYS = ("keys", "starts", "counts", "docs", "weights", "pbounds", "positions")


def term_key(fieldname: str, term: bytes) -> int:
    # Stable across processes (str.__hash__ is salted): a worker writes, every other process reads.
    digest = hashlib.blake2b(fieldname.encode("utf-8") + b"\0" + term, digest_size=8).digest()
    return int.from_bytes(digest, "little")


@dataclass
class FlatWriter:
    """Collects one segment's fields (each once, terms in any order) and writes the file."""

    keys: list[np.ndarray] = field(default_factory=list)
    starts: list[np.ndarray] = field(default_factory=list)
    counts: list[np.ndarray] = field(default_factory=list)
    docs: list[np.ndarray] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    position_counts: list[np.ndarray] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)
    postings: int = 0

    def add_field(self, fieldname: str, terms: Sequence[bytes], bounds: np.ndarray, docs: np.ndarray,
                  weights: np.ndarray, pbounds: np.ndarray | None = None, positions: np.ndarray | None = None) -> None:
        """``terms[i]``'s postings are ``docs[bounds[i]:bounds[i + 1]]`` (and ``weights``); with positions,
        posting ``j``'s are ``positions[pbounds[j]:pbounds[j + 1]]``."""
        self.keys.append(np.fromiter((term_key(fieldname, t) for t in terms), np.uint64, len(terms)))
        self.starts.append(bounds[:-1].astype(np.int64) + self.postings)
        self.counts.append(np.diff(bounds).astype(np.int64))
        self.docs.append(np.asarray(docs, np.uint32))
        self.weights.append(np.asarray(weights, np.float32))
        if pbounds is None or positions is None:
            self.position_counts.append(np.zeros(len(docs), np.int64))
        else:
            self.position_counts.append(np.diff(pbounds).astype(np.int64))
            self.positions.append(np.asarray(positions, np.uint32))
        self.postings += len(docs)

    def write(self, path: Path) -> bool:
        """Writes the file (atomically); False, writing nothing, when two terms share a key."""
        keys = np.concatenate(self.keys) if self.keys else np.zeros(0, np.uint64)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        if len(keys) > 1 and bool((keys[1:] == keys[:-1]).any()):
            return False
        pcounts = np.concatenate(self.position_counts) if self.position_counts else np.zeros(0, np.int64)
        pbounds = np.zeros(len(pcounts) + 1, np.int64)
        np.cumsum(pcounts, out=pbounds[1:])
        if pbounds[-1] >= 2**32:
            return False  # uint32 bounds: a segment of over 4 billion positions is read from W3
        arrays = {
            "keys": keys,
            "starts": _cat(self.starts, np.int64)[order],
            "counts": _cat(self.counts, np.int64)[order],
            "docs": _cat(self.docs, np.uint32),
            "weights": _cat(self.weights, np.float32),
            "pbounds": pbounds.astype(np.uint32),
            "positions": _cat(self.positions, np.uint32),
        }
        layout: dict[str, list[Any]] = {}
        offset = 0
        for name in _ARRAYS:
            a = arrays[name]
            layout[name] = [offset, a.dtype.str, len(a)]
            offset += -(-a.nbytes // _ALIGN) * _ALIGN
        header = json.dumps({"version": 1, "arrays": layout}).encode("utf-8")
        body_start = -(-(len(MAGIC) + 8 + len(header)) // _ALIGN) * _ALIGN
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as fh:
            fh.write(MAGIC + len(header).to_bytes(8, "little") + header)
            for name in _ARRAYS:
                fh.seek(body_start + layout[name][0])
                fh.write(arrays[name].tobytes())
            last = _ARRAYS[-1]
            fh.truncate(body_start + layout[last][0] + arrays[last].nbytes)  # no padding after the last
        os.replace(tmp, path)
        return True


def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


class FlatPostings:
    """One segment's ``.flat`` file, open for reading; safe to share between threads (``pread`` only)."""

    def __init__(self, path: Path) -> None:
        self._fd = -1
        self._fd = os.open(path, os.O_RDONLY)
        try:
            head = os.pread(self._fd, len(MAGIC) + 8, 0)
            if head[: len(MAGIC)] != MAGIC:
                raise ValueError(f"{path} is not a flat postings file")
            size = int.from_bytes(head[len(MAGIC):], "little")
            meta = json.loads(os.pread(self._fd, size, len(MAGIC) + 8))
            base = -(-(len(MAGIC) + 8 + size) // _ALIGN) * _ALIGN
            self._at = {name: (base + off, np.dtype(dt), n) for name, (off, dt, n) in meta["arrays"].items()}
            end = max(off + dt.itemsize * n for off, dt, n in self._at.values())
            if os.fstat(self._fd).st_size < end:
                raise ValueError(f"{path} is truncated")
            # The term table is searched: mapped, so only the pages a lookup touches are read.
            self._keys = self._mapped(path, "keys")
            self._starts = self._mapped(path, "starts")
            self._counts = self._mapped(path, "counts")
        except BaseException:
            self.close()
            raise

    def _mapped(self, path: Path, name: str) -> np.ndarray:
        offset, dtype, n = self._at[name]
        if n == 0:
            return np.zeros(0, dtype)
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n,))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()

    def _find(self, fieldname: str, term: bytes) -> tuple[int, int] | None:
        key = np.uint64(term_key(fieldname, term))
        i = int(np.searchsorted(self._keys, key))
        if i == len(self._keys) or self._keys[i] != key:
            return None
        return int(self._starts[i]), int(self._counts[i])

    def _read(self, name: str, start: int, n: int) -> np.ndarray:
        offset, dtype, _ = self._at[name]
        out = np.empty(n, dtype)
        if n:
            got = os.preadv(self._fd, [out.data], offset + start * dtype.itemsize)
            if got != out.nbytes:
                raise OSError(f"flat postings file truncated ({name})")
        return out

    def postings(self, fieldname: str, term: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """(docs, weights) of the term in this segment, docs ascending; None when it has none."""
        found = self._find(fieldname, term)
        if found is None:
            return None
        start, n = found
        return self._read("docs", start, n), self._read("weights", start, n)

    def positions(self, fieldname: str, term: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(docs, bounds, positions): the term's positions in ``docs[i]`` are
        ``positions[bounds[i]:bounds[i + 1]]``; None when the segment does not hold it."""
        found = self._find(fieldname, term)
        if found is None:
            return None
        start, n = found
        pb = self._read("pbounds", start, n + 1).astype(np.int64)
        return self._read("docs", start, n), pb - pb[0], self._read("positions", int(pb[0]), int(pb[-1] - pb[0]))


def open_for(folder: Path | str, segment_id: str) -> FlatPostings | None:
    """The segment's flat postings, or None (no file, or not readable: the segment is read from W3)."""
    path = Path(folder) / f"{segment_id}{SUFFIX}"
    try:
        return FlatPostings(path)
    except (OSError, ValueError, KeyError):
        return None
