"""How postings reach the disk: narrow speed-ups over Whoosh's defaults, same W3 file layout.

Whoosh spends most of a reindex in Python per posting. These costs are avoidable without changing what
is stored or how it is searched:

* ``CompactPositions`` encodes a posting's positions as a packed array instead of a pickle.
* ``FastW3Codec`` gives the posting writer each document's field length from a per-field list read
  once, instead of a column lookup per posting.
* ``BulkPostingsWriter`` writes a whole posting list in one call (the reindex path in
  ``searchsvc.store.build``), block by block exactly as ``W3PostingsWriter`` lays them out, and leaves
  small blocks uncompressed: zlib's set-up costs more than it saves on a block of a few dozen bytes,
  and the block header records per block whether it is compressed.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from isal import isal_zlib
from whoosh import columns, formats
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3PerDocWriter, W3TermsReader
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.index import FileIndex
from whoosh.matching import ListMatcher
from whoosh.system import _INT_SIZE, pack_uint, unpack_uint

from searchsvc.errors import IndexUnavailable, SearchsvcError
from searchsvc.store import flat
from searchsvc.store.flat_write import FlatWriter

_ONE = pack_uint(1)
_UINT = struct.Struct("=I")  # array("I") items: native order, 4 bytes
_INT = struct.Struct("!i")  # StructFile.write_int
PICKLE_PROTOCOL = 5
FLAT_ONLY = -1  # a term info's offset when the segment's flat file alone holds its posting list (bulk.py)


class CompactPositions(formats.Positions):  # type: ignore[misc]
    """Positions as ``uint32 count + uint32 deltas`` (machine byte order, as Whoosh's own arrays)."""

    def encode(self, poslist: list[int]) -> bytes:
        if len(poslist) == 1:  # most postings: one occurrence
            return _ONE + _UINT.pack(poslist[0])
        deltas = array("I", [poslist[0]])
        deltas.extend([b - a for a, b in zip(poslist, poslist[1:])])
        return pack_uint(len(poslist)) + deltas.tobytes()

    def decode_positions(self, valuestring: bytes) -> list[int]:
        deltas = array("I")
        deltas.frombytes(valuestring[_INT_SIZE:])
        out: list[int] = []
        pos = 0
        for d in deltas:
            pos += d
            out.append(pos)
        return out

    def decode_frequency(self, valuestring: bytes) -> int:
        return int(unpack_uint(valuestring[:_INT_SIZE])[0])

    def combine(self, vs: list[bytes]) -> bytes:
        seen: set[int] = set()
        for v in vs:
            seen.update(self.decode_positions(v))
        return self.encode(sorted(seen))


def decode_many(values: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Many CompactPositions values at once, as (bounds, positions): value ``j``'s positions are
    ``positions[bounds[j]:bounds[j + 1]]`` (int64 arrays)."""
    return decode_packed(b"".join(values), np.fromiter(map(len, values), np.int64, len(values)))


def decode_packed(buf: bytes | bytearray | np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``decode_many`` of values laid end to end in ``buf``, value ``j`` ``lengths[j]`` bytes long."""
    if not len(lengths):
        return np.zeros(1, np.int64), np.zeros(0, np.int64)
    # Each value: its count (big-endian; skipped, the size tells it), then native uint32 deltas.
    words = np.frombuffer(buf, np.uint32).astype(np.int64)
    sizes = np.asarray(lengths, np.int64) // 4
    heads = np.cumsum(sizes) - sizes
    counts = sizes - 1
    words[heads] = 0
    running = np.cumsum(words)
    positions = np.delete(running, heads) - np.repeat(running[heads], counts)
    bounds = np.concatenate([np.zeros(1, np.int64), np.cumsum(counts)])
    return bounds, positions


def pack_words(counts: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """CompactPositions values laid end to end, as uint32 words: value ``j`` holds the next ``counts[j]``
    of ``positions`` (ascending within a value)."""
    firsts = np.cumsum(counts) - counts
    deltas = np.diff(positions, prepend=0)
    held = firsts[counts > 0]
    deltas[held] = positions[held]  # a value's first position is absolute
    return np.insert(deltas.astype(np.uint32), firsts, counts.astype(">u4").view(np.uint32))


def encode_packed(bounds: np.ndarray, positions: np.ndarray) -> list[bytes]:
    """The inverse of ``decode_packed``: posting ``j``'s CompactPositions value, its positions being
    ``positions[bounds[j]:bounds[j + 1]]`` (ascending; ``bounds`` from 0)."""
    counts = np.diff(bounds)
    raw = pack_words(counts, positions).tobytes()
    firsts = (bounds[:-1] + np.arange(len(counts))) * 4
    return [raw[a:b] for a, b in zip(firsts.tolist(), (firsts + 4 * counts + 4).tolist(), strict=True)]


class FlatTee:
    """Copies the postings Whoosh's own writer sends a segment (``add``, merges) into its flat file.

    ``FieldWriter.add_postings`` gets every posting of the segment sorted by field, term and document:
    they pass through unchanged while each field's are kept in compact arrays (about 16 bytes a
    posting) and written out when the field ends, so the flat file exists before Whoosh publishes the
    segment in its TOC. Serving reads postings from the flat file only: failing to write it fails the
    commit (Whoosh's writer cancels it), so no segment is published without one.
    """

    def __init__(self, path: Path, schema: Any) -> None:
        self._schema = schema
        self._out: FlatWriter | None = FlatWriter(path)
        self._field: str | None = None
        self._reset()

    def _reset(self) -> None:
        self._terms: list[bytes] = []
        self._bounds = array("q")
        self._docs = array("I")
        self._weights = array("f")
        self._lengths = array("q")
        self._values = bytearray()

    def tee(self, items: Any) -> Any:
        for item in items:
            if self._out is not None:
                fieldname, btext, docnum, weight, value = item
                if docnum != -1:  # -1: a spelling word, not a posting
                    if fieldname != self._field:
                        self._flush()
                        self._field = fieldname
                    if not self._terms or btext != self._terms[-1]:
                        self._terms.append(btext)
                        self._bounds.append(len(self._docs))
                    self._docs.append(docnum)
                    self._weights.append(weight)
                    value = value or b""
                    self._lengths.append(len(value))
                    self._values += value
            yield item

    def _flush(self) -> None:
        if self._out is None or self._field is None:
            return
        try:
            out, n = self._out, len(self._docs)
            docs, weights = np.frombuffer(self._docs, np.uint32), np.frombuffer(self._weights, np.float32)
            if isinstance(self._schema[self._field].format, CompactPositions):
                bounds, positions = decode_packed(bytes(self._values), np.frombuffer(self._lengths, np.int64))
                out.start_field(self._field, n, len(positions))
                out.add_postings(docs, weights, np.diff(bounds), positions)
            else:
                out.start_field(self._field, n)
                out.add_postings(docs, weights)
            self._bounds.append(n)
            out.end_field(self._terms, np.frombuffer(self._bounds, np.int64))
        except BaseException:
            self.cancel()
            raise
        self._reset()

    def finish(self) -> None:
        self._flush()
        if self._out is not None:
            try:
                self._out.finish()
            except BaseException:
                self.cancel()
                raise

    def cancel(self) -> None:
        if self._out is not None:
            self._out.cancel()
            self._out = None


class _CachedLengths:
    """Answers ``doc_field_length`` from a list per field, filled on first use."""

    def __init__(self, lengths: Any) -> None:
        self._lengths = lengths
        self._cache: dict[str, list[int]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        col = self._cache.get(fieldname)
        if col is None:
            if not hasattr(self._lengths, "doc_count_all"):  # not a segment's lengths (Whoosh's own tests)
                return int(self._lengths.doc_field_length(docnum, fieldname))
            get = self._lengths.doc_field_length
            col = [get(d, fieldname, default) for d in range(self._lengths.doc_count_all())]
            self._cache[fieldname] = col
        return col[docnum] if docnum < len(col) else default

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lengths, name)


class _FastFieldWriter(W3FieldWriter):  # type: ignore[misc]
    def add_postings(self, schema: Any, lengths: Any, items: Any) -> Any:
        # Only Whoosh's writer calls this (the reindex writes through BulkPostingsWriter and FlatWriter).
        folder = getattr(self._storage, "folder", None)
        # A folder-less storage (Whoosh's RamStorage, in its own tests) is never served: W3 postings only.
        tee = FlatTee(flat.path_for(folder, self._segment.segment_id()), schema) if folder else None
        out = super().add_postings(schema, _CachedLengths(lengths) if lengths else lengths,
                                   tee.tee(items) if tee else items)
        if tee is not None:
            tee.finish()
        return out


class _FlatBackedTermsReader(W3TermsReader):  # type: ignore[misc]
    """W3's terms reader, reading a posting list the reindex wrote to the flat file only (``FLAT_ONLY``) from
    there: Whoosh's searches and merges see the postings that W3 blocks would give them."""

    def __init__(self, codec: Any, dbfile: Any, length: int, postfile: Any, flat_path: Path | None) -> None:
        super().__init__(codec, dbfile, length, postfile)
        self._flat_path = flat_path
        self._flat: flat.FlatPostings | None = None

    def matcher(self, fieldname: str, tbytes: bytes, format_: Any, scorer: Any = None) -> Any:
        terminfo = self.term_info(fieldname, tbytes)
        term = (fieldname, tbytes)
        if terminfo.is_inlined() or terminfo.extent()[0] != FLAT_ONLY:
            return self._codec.postings_reader(self._postfile, terminfo, format_, term=term, scorer=scorer)
        if self._flat is None:
            if self._flat_path is None:
                raise ValueError(f"{fieldname}:{tbytes!r} is kept in a flat file, and this storage has none")
            self._flat = flat.FlatPostings(self._flat_path)
        span = self._flat.span(fieldname, tbytes)
        if span is None:
            raise ValueError(f"{self._flat_path} lacks the postings of {fieldname}:{tbytes!r}")
        docs, weights = np.empty(span[1], np.int32), np.empty(span[1], np.float32)
        self._flat.read_into(fieldname, span, docs, weights)
        bounds = self._flat.position_bounds(fieldname, span)
        positions = np.empty(int(bounds[-1] - bounds[0]), np.uint32)
        self._flat.read_positions_into(fieldname, int(bounds[0]), positions)
        values = encode_packed(bounds - bounds[0], positions.astype(np.int64))
        return ListMatcher(docs.tolist(), weights.tolist(), values, format_, scorer=scorer, term=term,
                           terminfo=terminfo)

    def close(self) -> None:
        super().close()
        if self._flat is not None:
            self._flat.close()


class _IsalBytesColumn(columns.CompressedBytesColumn):  # type: ignore[misc]
    """Whoosh's compressed bytes column deflated by ISA-L: the zlib streams Whoosh's reader inflates, made
    in about a third of zlib's time (a reindex compresses every article's stored fields)."""

    def writer(self, dbfile: Any) -> Any:
        out = self.Writer(dbfile, self._level, self._module)
        out._compress = isal_zlib.compress
        return out


_STORED_COLUMN = columns.PickleColumn(_IsalBytesColumn())  # whoosh3.STORED_COLUMN, written faster


class _FastPerDocWriter(W3PerDocWriter):  # type: ignore[misc]
    def _create_column(self, fieldname: str, column: Any) -> None:
        super()._create_column(fieldname, _STORED_COLUMN if fieldname == "_stored" else column)


class FastW3Codec(W3Codec):  # type: ignore[misc]
    def field_writer(self, storage: Any, segment: Any) -> Any:
        return _FastFieldWriter(self, storage, segment)

    def per_document_writer(self, storage: Any, segment: Any) -> Any:
        return _FastPerDocWriter(self, storage, segment)

    def terms_reader(self, storage: Any, segment: Any) -> Any:
        name = segment.make_filename(self.TERMS_EXT)
        folder = getattr(storage, "folder", None)  # none for a compound segment: Whoosh's, with W3 blocks
        return _FlatBackedTermsReader(self, storage.open_file(name), storage.file_length(name),
                                      segment.open_file(storage, self.POSTS_EXT),
                                      flat.path_for(folder, segment.segment_id()) if folder else None)


class MmapStorage(FileStorage):  # type: ignore[misc]
    """Reads index files through mmap: no system call per posting block, and the pages are the kernel's
    page cache, shared by every serving worker instead of copied into each (Whoosh's own compound
    files are copied into a BytesIO per reader)."""

    def open_file(self, name: str, **kwargs: Any) -> Any:
        path = self._fpath(name)
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return super().open_file(name, **kwargs)
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return StructFile(mapped, name=name, **kwargs)


def open_index(directory: Path | str) -> Any:
    """A Whoosh index read through :class:`MmapStorage`."""
    return FileIndex(MmapStorage(str(directory), readonly=True), indexname="MAIN")


@contextmanager
def unreadable_is_unavailable(index_dir: Path | str, log: logging.Logger | None = None) -> Iterator[None]:
    """Whoosh reports damaged files with many exception types (its own IndexError, struct.error, ...):
    whatever opening an index raises, there is no usable index: IndexUnavailable (a 503, or the CLI's
    one line), not a 500 or a traceback. ``log`` (a server's) gets the traceback."""
    try:
        yield
    except SearchsvcError:
        raise
    except Exception as exc:
        if log is not None:
            log.exception("cannot open the index in %s", index_dir)
        raise IndexUnavailable(f"the index in {index_dir} cannot be read ({type(exc).__name__}: {exc}); "
                               "run `searchsvc reindex SOURCE...`") from None
