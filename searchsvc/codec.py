"""How postings reach the disk: two narrow speed-ups over Whoosh's defaults.

Whoosh spends most of a reindex in Python per posting. Two costs are avoidable without changing what
is stored or how it is searched:

* ``CompactPositions`` encodes a posting's positions as a packed array instead of a pickle.
* ``FastW3Codec`` gives the posting writer each document's field length from a per-field list read
  once, instead of a column lookup per posting.
"""

from __future__ import annotations

from array import array
from typing import Any

from whoosh import formats
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter
from whoosh.system import _INT_SIZE, pack_uint, unpack_uint


class CompactPositions(formats.Positions):  # type: ignore[misc]
    """Positions as ``uint32 count + uint32 deltas`` (machine byte order, as Whoosh's own arrays)."""

    def encode(self, poslist: list[int]) -> bytes:
        deltas = array("I", [poslist[0]])
        deltas.extend(b - a for a, b in zip(poslist, poslist[1:]))
        return bytes(pack_uint(len(poslist))) + deltas.tobytes()

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


class _CachedLengths:
    """Answers ``doc_field_length`` from a list per field, filled on first use."""

    def __init__(self, lengths: Any) -> None:
        self._lengths = lengths
        self._cache: dict[str, list[int]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        col = self._cache.get(fieldname)
        if col is None:
            get = self._lengths.doc_field_length
            col = [get(d, fieldname, default) for d in range(self._lengths.doc_count_all())]
            self._cache[fieldname] = col
        return col[docnum] if docnum < len(col) else default

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lengths, name)


class _FastFieldWriter(W3FieldWriter):  # type: ignore[misc]
    def add_postings(self, schema: Any, lengths: Any, items: Any) -> Any:
        return super().add_postings(schema, _CachedLengths(lengths) if lengths else lengths, items)


class FastW3Codec(W3Codec):  # type: ignore[misc]
    def field_writer(self, storage: Any, segment: Any) -> Any:
        return _FastFieldWriter(self, storage, segment)
