"""Whoosh's per-document columns of one segment, decoded as whole numpy arrays.

Whoosh decodes a field length or a sortable number one document at a time (a Python call and a
``struct.unpack`` each): for a 280,000-article archive, a snapshot's lengths of four text fields and its
publication times took 4.7 s, paid by the first search after every start and every ``add``. The columns
are fixed-width big-endian arrays in the segment's files, so they are read with one slice each. A column of
a kind this code does not know is decoded Whoosh's way, one document at a time, with the same result.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from isal import isal_zlib
from whoosh import columns
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, STORED_COLUMN, _lenfield
from whoosh.util.numeric import byte_to_length

# Whoosh records a length as one byte (``length_to_byte``); byte 0 is "no length".
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], np.float32)


def field_lengths(segment: Any, field: str) -> np.ndarray:
    """A segment reader's recorded lengths of ``field`` per docnum (float32, 0 where none)."""
    n = segment.doc_count_all()
    perdoc = segment._perdoc  # noqa: SLF001  (Whoosh's public call is the per-document one)
    reader = perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)  # noqa: SLF001
    out = np.zeros(n, np.float32)
    if reader is None:
        return out
    raw = _raw(reader, "B")
    if raw is None:
        return np.fromiter((segment.doc_field_length(d, field, 0) for d in range(n)), np.float32, n)
    out[:len(raw)] = _LENGTH_OF_BYTE[raw]
    return out


def int_column(segment: Any, name: str, default: int) -> np.ndarray:
    """A segment reader's values of a sortable integer field per docnum (int64), as Whoosh's column reader
    gives them (``default`` for a segment without the column; Whoosh's own fill where a document lacks
    a value in a segment that has it)."""
    n = segment.doc_count_all()
    if not segment.has_column(name):
        return np.full(n, default, np.int64)
    field = segment.schema[name]
    reader = segment.column_reader(name)
    inner = reader.raw_column() if isinstance(reader, columns.TranslatingColumnReader) else None
    plain = (getattr(field, "numtype", None) is int and getattr(field, "bits", 0) == 64
             and getattr(field, "signed", False) and not getattr(field, "decimal_places", 0))
    if inner is not None and plain:
        if isinstance(inner, columns.EmptyColumnReader):
            return np.full(n, reader[0] if n else default, np.int64)
        raw = _raw(inner, "Q")
        if raw is not None:
            sortable = np.full(n, inner._default, np.uint64)  # noqa: SLF001  (past the last value written)
            sortable[:len(raw)] = raw
            # Whoosh's sortable form of a signed 64-bit integer is the integer plus 2^63.
            return (sortable ^ np.uint64(1 << 63)).view(np.int64)
    return np.fromiter(reader, np.int64, n)


def stored_fields(segment: Any) -> Callable[[int], dict[str, Any]]:
    """A segment reader's stored fields of a docnum, as ``segment.stored_fields`` gives them.

    Whoosh keeps them pickled and zlib-compressed, one value per document; through its readers an
    article took 52 µs, a tenth of a search at 35,000 articles, and 37 µs read here: one slice, ISA-L's
    inflate (the same DEFLATE streams as zlib's, decoded in about half the time) and one unpickle.
    """
    reader = segment._perdoc._cached_reader("_stored", STORED_COLUMN)  # noqa: SLF001
    inner: Any = getattr(reader, "_child", None)
    if (type(reader) is not columns.PickleColumn.Reader or type(inner) is not columns.CompressedBytesColumn.Reader
            or inner._decompress is not zlib.decompress):  # noqa: SLF001
        return lambda docnum: dict(segment.stored_fields(docnum))
    lengths, offsets, base, get = inner._lengths, inner._offsets, inner._basepos, inner._dbfile.get  # noqa: SLF001
    schema = segment.schema
    inflate, loads = isal_zlib.decompress, pickle.loads

    def read(docnum: int) -> dict[str, Any]:
        length = lengths[docnum]
        if not length:
            return {}
        fields = loads(inflate(get(base + offsets[docnum], length)))
        return {k: v for k, v in fields.items() if k in schema}  # as Whoosh: not a field removed since

    return read


def _raw(reader: Any, typecode: str) -> np.ndarray | None:
    """The stored values of a fixed-width numeric column reader, or None for another kind of reader."""
    if type(reader) is not columns.NumericColumn.Reader or reader._typecode != typecode:  # noqa: SLF001
        return None
    count = min(reader._count, reader._doccount)  # noqa: SLF001
    data = reader._dbfile.get(reader._basepos, count * reader._fixedlen)  # noqa: SLF001
    return np.frombuffer(data, np.dtype(typecode).newbyteorder(">"), count).astype(np.dtype(typecode))
