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
import zlib
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from pickle import dumps
from typing import Any

import numpy as np
from whoosh import formats
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3FieldWriter, W3TermInfo
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.index import FileIndex
from whoosh.system import _INT_SIZE, pack_uint, pack_ushort, unpack_uint
from whoosh.util.numeric import length_to_byte

from searchsvc.errors import IndexUnavailable, SearchsvcError
from searchsvc.store import flat
from searchsvc.store.flat_write import FlatWriter

_ONE = pack_uint(1)
_UINT = struct.Struct("=I")  # array("I") items: native order, 4 bytes
_INT = struct.Struct("!i")  # StructFile.write_int
PICKLE_PROTOCOL = 5


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


def decode_packed(buf: bytes | bytearray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


class FastW3Codec(W3Codec):  # type: ignore[misc]
    def field_writer(self, storage: Any, segment: Any) -> Any:
        return _FastFieldWriter(self, storage, segment)


# Blocks whose pickle is shorter than this are stored uncompressed (the block says so).
COMPRESS_MIN_BYTES = 256


class BulkPostingsWriter:
    """Writes the posting lists of one segment's terms, a whole list per call, in the W3 layout.

    The bytes of each block are those ``W3PostingsWriter._write_block`` produces (a pickled info tuple
    and a pickled, optionally zlib-compressed data tuple), and each term's ``W3TermInfo`` gets the
    statistics ``W3TermInfo.add_block`` would accumulate, so Whoosh's readers see no difference.
    """

    def __init__(self, fieldwriter: W3FieldWriter, blocklimit: int = 128, compression: int = 3,
                 compress_min: int = COMPRESS_MIN_BYTES) -> None:
        self._fw = fieldwriter
        self._postfile = fieldwriter._postfile
        self._blocklimit = blocklimit
        self._compression = compression
        self._compress_min = compress_min
        self._prefix = b""
        self._fixedsize: int | None = None
        self._write = self._postfile.file.write  # the buffered file under Whoosh's StructFile wrapper
        self._pos = 0  # where the next posting list starts: only this writer writes to the file

    def start_field(self, fieldname: str, fieldobj: Any) -> None:
        self._fw.start_field(fieldname, fieldobj)
        self._prefix = pack_ushort(self._fw._fieldid)
        self._fixedsize = fieldobj.format.fixed_value_size()
        self._pos = self._postfile.tell()

    def add_term(self, btext: bytes, ids: Sequence[int], weights: Sequence[float], values: Sequence[bytes],
                 lengths: Sequence[int]) -> None:
        """All postings of ``btext`` in this field: ascending document numbers, with each document's
        weight, value bytes and (length-byte rounded) field length."""
        write = self._write
        write(WHOOSH3_HEADER_MAGIC)
        size = len(WHOOSH3_HEADER_MAGIC)
        info = W3TermInfo()
        n = len(ids)
        if n == 1:  # most terms of a segment: the same bytes, without the general block's bookkeeping
            size += self._write_single(write, info, ids[0], weights[0], values[0], lengths[0])
        else:
            limit = self._blocklimit
            for i in range(0, n, limit):
                j = min(i + limit, n)
                size += self._write_block(write, info, ids[i:j], weights[i:j], values[i:j], lengths[i:j], j == n)
        info.set_extent(self._pos, size)
        self._pos += size
        self._fw._tindex.add(self._prefix + btext, info.to_bytes())

    def _write_single(self, write: Any, info: W3TermInfo, docnum: int, weight: float, value: bytes,
                      length: int) -> int:
        """``_write_block`` for a one-posting list (see there for the rules it follows)."""
        w32 = array("f", (weight,))[0]
        fixed = self._fixedsize
        if fixed is None or fixed < 0:
            mini_value: Any = (value,)
        else:
            mini_value = None if fixed == 0 else value
        databytes = dumps(((docnum,), None if w32 == 1.0 else w32, mini_value), PICKLE_PROTOCOL)
        comp = self._compression if len(databytes) >= self._compress_min else 0
        if comp:
            databytes = zlib.compress(databytes, comp)
        maxweight: Any = weight if weight > 0 else 0
        byte = length_to_byte(length or None)
        infobytes = dumps((1, docnum, maxweight, comp, byte, byte), PICKLE_PROTOCOL)
        size = len(infobytes) + len(databytes)
        write(_INT.pack(-size))
        write(infobytes)
        write(databytes)
        info._weight += w32
        info._df = 1
        info._minlength = length or None
        info._maxlength = length
        info._maxweight = max(0, maxweight)
        info._minid = info._maxid = docnum
        return _INT.size + size

    def _write_block(self, write: Any, info: W3TermInfo, ids: Sequence[int], weights: Sequence[float],
                     values: Sequence[bytes], lengths: Sequence[int], last: bool) -> int:
        w32 = array("f", weights)  # what the W3 block stores; the max weight stays a double
        maxweight: Any = max(weights)
        if not maxweight > 0:
            maxweight = 0  # W3PostingsWriter starts from int 0
        nonzero = [x for x in lengths if x]
        minlength = min(nonzero) if nonzero else None
        maxlength = max(nonzero) if nonzero else 0

        first = w32[0]
        if w32.count(first) == len(w32):
            mini_weights: Any = None if first == 1.0 else first
        else:
            mini_weights = tuple(w32)
        fixed = self._fixedsize
        if fixed is None or fixed < 0:
            mini_values: Any = tuple(values)
        elif fixed == 0:
            mini_values = None
        else:
            mini_values = b"".join(values)
        mini_ids = (ids[0], *[b - a for a, b in zip(ids, ids[1:])])
        # Whoosh pickles with protocol 2, which spells every bytes value as a latin-1 string to
        # re-encode; its reader takes any protocol, and 5 has a bytes opcode (faster, smaller).
        databytes = dumps((mini_ids, mini_weights, mini_values), PICKLE_PROTOCOL)
        comp = self._compression if len(databytes) >= self._compress_min else 0
        if comp:
            databytes = zlib.compress(databytes, comp)
        infobytes = dumps((len(ids), ids[-1], maxweight, comp, length_to_byte(minlength),
                           length_to_byte(maxlength)), PICKLE_PROTOCOL)
        size = len(infobytes) + len(databytes)
        write(_INT.pack(-size if last else size))  # a negative length marks the last block
        write(infobytes)
        write(databytes)

        # W3TermInfo.add_block, without a block object.
        info._weight += sum(w32)
        info._df += len(ids)
        info._minlength = minlength if info._minlength is None else min(info._minlength, minlength)
        info._maxlength = max(info._maxlength, maxlength)
        info._maxweight = max(info._maxweight, maxweight)
        if info._minid is None:
            info._minid = ids[0]
        info._maxid = ids[-1]
        return _INT.size + size


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
