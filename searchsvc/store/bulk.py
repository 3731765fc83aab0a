"""A segment's postings on their way to disk: pooled as columns, then written a whole list at a time.

Whoosh's writer sends every posting through a pool of 5-tuples, sorts the pool at commit and hands the
postings one at a time to its posting writer. Here a segment keeps each field's postings as flat columns
(:class:`FieldPool`: term id, document, weight, value bytes), orders them once with numpy and writes them
out a whole list at a time: to the segment's flat file, which serving reads (``flat.py``), and for the
fields without positions also as W3 blocks exactly as ``W3PostingsWriter`` lays them out
(:class:`BulkPostingsWriter`). A positional field's lists (the text fields, nearly all the postings) are
written once, to the flat file: their W3 term infos carry the statistics and point there
(``w3.FLAT_ONLY``), and Whoosh reads them back from it through the codec.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, repeat
from operator import is_
from pickle import dumps
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3FieldWriter, W3TermInfo
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte

from searchsvc.arrays import concat_ranges
from searchsvc.store.analyzers import IndexColumns
from searchsvc.store.flat_write import FlatWriter
from searchsvc.store.w3 import _INT, FLAT_ONLY, PICKLE_PROTOCOL, decode_packed

_CHUNK_POSTINGS = 500_000  # postings turned into Python objects (or gathered) at a time when writing
# W3TermInfo.to_bytes: "!BfIBBfII" (flags, weight, df, min and max length bytes, max weight, first and last
# id), then the extent, "!q" offset and "!i" length.
_TERM_INFO = np.dtype([("flags", "u1"), ("weight", ">f4"), ("df", ">u4"), ("minlength", "u1"),
                       ("maxlength", "u1"), ("maxweight", ">f4"), ("minid", ">u4"), ("maxid", ">u4"),
                       ("offset", ">i8"), ("length", ">i4")])
_LENGTH_BYTES = np.asarray([byte_to_length(b) for b in range(256)], np.int64)
_NO_LENGTH = np.uint32(0xFFFFFFFF)


def _chunks(bounds: np.ndarray) -> Iterator[tuple[int, int, int, int]]:
    """Whole terms, about _CHUNK_POSTINGS postings at a time: (first term, last term + 1, first posting, last
    posting + 1), term ``k``'s postings being ``bounds[k]:bounds[k + 1]``."""
    first = 0
    while first < len(bounds) - 1:
        last = max(int(np.searchsorted(bounds, bounds[first] + _CHUNK_POSTINGS, side="right")) - 1, first + 1)
        yield first, last, int(bounds[first]), int(bounds[last])
        first = last


def _length_bytes(lengths: np.ndarray) -> np.ndarray:
    """``length_to_byte`` of each length (``_NO_LENGTH``: none, byte 0), for lengths that are already
    byte-rounded (``byte_to_length(length_to_byte(n))``)."""
    out = np.searchsorted(_LENGTH_BYTES, lengths.astype(np.int64))
    out[lengths >= 106374] = 255  # length_to_byte's own cut-off
    out[lengths == _NO_LENGTH] = 0
    return out


class FieldPool:
    """One field's postings in arrival order, as columns: what Whoosh's pool holds as 5-tuples."""

    def __init__(self) -> None:
        self.terms: dict[bytes, int] = {}
        self.term_ids = array("I")
        self.docs = array("I")
        self.weights = array("d")
        self.value_lengths = array("I")
        self.values = bytearray()

    def __len__(self) -> int:
        return len(self.term_ids)

    def add(self, docnum: int, items: Iterable[tuple[bytes, int, float, bytes | None]], boost: float) -> int:
        """Adds one document's postings; returns the sum of their frequencies."""
        rows = list(items)
        if not rows:
            return 0
        tbytes, freqs, weights, values = zip(*rows, strict=True)
        values = tuple(v or b"" for v in values)
        return self.add_columns(docnum, (list(tbytes), np.asarray(freqs), np.asarray(weights, np.float64),
                                         np.fromiter(map(len, values), np.uint32, len(values)), b"".join(values)),
                                boost)

    def add_columns(self, docnum: int, columns: IndexColumns, boost: float) -> int:
        """``add`` for postings given as columns (``analyzers.index_columns``)."""
        tbytes, freqs, weights, value_lengths, values = columns
        if not tbytes:
            return 0
        terms = self.terms
        known = list(map(terms.get, tbytes))
        if None in known:
            for t in compress(tbytes, map(is_, known, repeat(None))):  # a document's terms are distinct
                terms.setdefault(t, len(terms))
            known = list(map(terms.__getitem__, tbytes))
        self.term_ids.extend(known)  # type: ignore[arg-type]  # no None in it
        self.docs.extend([docnum] * len(tbytes))
        self.weights.frombytes((weights if boost == 1.0 else weights * boost).astype(np.float64).tobytes())
        self.value_lengths.frombytes(value_lengths.astype(np.uint32).tobytes())
        self.values += values
        return int(freqs.sum())

    def write(self, bulk: BulkPostingsWriter, doc_lengths: array[int], flat: FlatWriter | None, fieldname: str,
              positional: bool) -> None:
        """Every term's posting list, terms in byte order, documents ascending (a stable sort), to ``flat`` as
        arrays. A positional field's lists go to ``flat`` only, with their term statistics in the W3 term
        index (``BulkPostingsWriter.add_flat_terms``); any other field's are also written as W3 blocks."""
        names = sorted(self.terms)
        rank = np.empty(len(names), dtype=np.uint32)
        rank[np.fromiter((self.terms[t] for t in names), dtype=np.int64, count=len(names))] = np.arange(
            len(names), dtype=np.uint32)
        keys = rank[np.frombuffer(self.term_ids, dtype=np.uint32)]
        bounds = np.zeros(len(names) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys, minlength=len(names)), out=bounds[1:])
        order = np.argsort(keys, kind="stable")
        del keys, rank
        if flat is not None and positional:
            self._write_flat_only(bulk, doc_lengths, flat, fieldname, names, bounds, order)
            return
        docs = np.frombuffer(self.docs, dtype=np.uint32)
        weights = np.frombuffer(self.weights, dtype=np.float64)
        lengths_np = np.frombuffer(doc_lengths, dtype=np.uint32)
        value_lengths = np.frombuffer(self.value_lengths, dtype=np.uint32)
        ends = np.cumsum(value_lengths, dtype=np.int64)
        buf = bytes(self.values)
        self.values = bytearray()
        if flat is not None:
            flat.start_field(fieldname, len(docs))
        for first, last, lo, hi in _chunks(bounds):  # as Python lists, a chunk at a time
            sel = order[lo:hi]
            c_docs = docs[sel]
            d = c_docs.tolist()
            w = weights[sel].tolist()
            ln = lengths_np[c_docs].tolist()
            c_ends = ends[sel]
            v = [buf[s:e] for s, e in zip((c_ends - value_lengths[sel]).tolist(), c_ends.tolist(), strict=True)]
            cuts = (bounds[first : last + 1] - lo).tolist()
            for k in range(last - first):
                a, b = cuts[k], cuts[k + 1]
                bulk.add_term(names[first + k], d[a:b], w[a:b], v[a:b], ln[a:b])
            if flat is not None:
                flat.add_postings(c_docs, weights[sel])
        if flat is not None:
            flat.end_field(names, bounds)

    def _write_flat_only(self, bulk: BulkPostingsWriter, doc_lengths: array[int], flat: FlatWriter, fieldname: str,
                         names: list[bytes], bounds: np.ndarray, order: np.ndarray) -> None:
        docs = np.frombuffer(self.docs, dtype=np.uint32)
        weights = np.frombuffer(self.weights, dtype=np.float64)
        lengths = np.frombuffer(doc_lengths, dtype=np.uint32)
        # A CompactPositions value is a count and one uint32 a position: whole words, so values are
        # gathered in term order as words, never as Python bytes.
        sizes = np.frombuffer(self.value_lengths, dtype=np.uint32).astype(np.int64) // 4
        heads = np.cumsum(sizes) - sizes
        words = np.frombuffer(self.values, dtype=np.uint32)
        flat.start_field(fieldname, len(docs), int(sizes.sum()) - len(sizes))
        for first, last, lo, hi in _chunks(bounds):
            sel = order[lo:hi]
            c_docs, c_weights = docs[sel], weights[sel]
            chunk_bounds, chunk_positions = decode_packed(words[concat_ranges(heads[sel], sizes[sel])], sizes[sel] * 4)
            flat.add_postings(c_docs, c_weights, np.diff(chunk_bounds), chunk_positions)
            bulk.add_flat_terms(names[first:last], bounds[first:last + 1] - lo, c_docs, c_weights, lengths[c_docs])
        del words
        self.values = bytearray()
        flat.end_field(names, bounds)


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

    def add_flat_terms(self, btexts: Sequence[bytes], bounds: np.ndarray, docs: np.ndarray, weights: np.ndarray,
                       lengths: np.ndarray) -> None:
        """Terms whose posting lists the segment's flat file holds, and no W3 block: their term infos only,
        with the statistics ``add_term`` would give them and the extent ``FLAT_ONLY``, where Whoosh's
        reader (``w3.FastW3Codec``) reads them from the flat file. Term ``k``'s postings are
        ``bounds[k]:bounds[k + 1]`` of ``docs`` (ascending), ``weights`` and ``lengths`` (byte-rounded
        field lengths, 0 for none)."""
        if not len(btexts):
            return
        starts = bounds[:-1]
        infos = np.zeros(len(btexts), _TERM_INFO)
        # Weights are sums of part weights (3, 1.5, 1 and their field boosts): exact in any order.
        infos["weight"] = np.add.reduceat(weights.astype(np.float32).astype(np.float64), starts)
        infos["df"] = np.diff(bounds)
        infos["minlength"] = _length_bytes(np.minimum.reduceat(np.where(lengths > 0, lengths, _NO_LENGTH), starts))
        infos["maxlength"] = _length_bytes(np.maximum.reduceat(lengths, starts))
        infos["maxweight"] = np.maximum(np.maximum.reduceat(weights, starts), 0)
        infos["minid"] = docs[starts]
        infos["maxid"] = docs[bounds[1:] - 1]
        infos["offset"] = FLAT_ONLY
        raw, size, add, prefix = infos.tobytes(), _TERM_INFO.itemsize, self._fw._tindex.add, self._prefix
        for k, btext in enumerate(btexts):
            add(prefix + btext, raw[k * size:(k + 1) * size])

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


