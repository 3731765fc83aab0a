"""searchsvc.store.bulk: bulk posting lists that Whoosh reads like its own."""

from __future__ import annotations

import random
from typing import Any

import pytest
from whoosh.filedb.filestore import RamStorage
from whoosh.util.numeric import byte_to_length, length_to_byte

from searchsvc.store.bulk import BulkPostingsWriter
from searchsvc.store.schema import VietText
from searchsvc.store.w3 import CompactPositions, FastW3Codec

Posting = tuple[int, float, bytes, int]  # document, weight, value, field length


def _postings(rng: random.Random, n: int) -> list[Posting]:
    docs = sorted(rng.sample(range(5000), n))
    out = []
    for d in docs:
        positions = sorted(rng.sample(range(400), rng.randint(1, 4)))
        length = byte_to_length(length_to_byte(rng.randint(1, 3000)))
        out.append((d, rng.choice([1.0, 1.5, 3.0, 4.5, 2.5]), CompactPositions().encode(positions), length))
    return out


def _terms() -> dict[bytes, list[Posting]]:
    rng = random.Random(7)
    terms = {f"t{i:03d}".encode(): _postings(rng, n) for i, n in enumerate([1, 2, 5, 127, 128, 129, 300, 1000])}
    terms[b"ones"] = [(d, 1.0, v, n) for d, _, v, n in _postings(rng, 200)]  # all weights 1.0: stored as None
    terms[b"same"] = [(d, 3.0, v, n) for d, _, v, n in _postings(rng, 150)]  # one weight for the block
    return terms


def _write(terms: dict[bytes, list[Posting]], bulk: bool, compress_min: int) -> tuple[Any, Any]:
    codec = FastW3Codec()
    storage = RamStorage()
    segment = codec.new_segment(storage, "T")
    fieldobj = VietText(folded=False)
    writer = codec.field_writer(storage, segment)
    if bulk:
        bw = BulkPostingsWriter(writer, codec._blocklimit, codec._compression, compress_min)
        bw.start_field("f", fieldobj)
        for btext, posts in sorted(terms.items()):
            docs, weights, values, lengths = zip(*posts, strict=True)
            bw.add_term(btext, list(docs), list(weights), list(values), list(lengths))
    else:  # Whoosh's own posting writer, one posting at a time
        writer.start_field("f", fieldobj)
        for btext, posts in sorted(terms.items()):
            writer.start_term(btext)
            for d, w, v, n in posts:
                writer.add(d, w, v, n)
            writer.finish_term()
    writer.finish_field()
    writer.close()
    return codec.terms_reader(storage, segment), fieldobj.format


def _read(reader: Any, fmt: Any, btext: bytes) -> tuple[Any, ...]:
    info = reader.term_info("f", btext)
    m = reader.matcher("f", btext, fmt)
    postings, blocks = [], []
    while m.is_active():
        blocks.append((m.block_min_id(), m.block_max_id(), m.block_max_weight(), m.block_min_length(),
                       m.block_max_length()))
        for _ in range(m._blocklength):
            postings.append((m.id(), m.weight(), m.value()))
            m.next()
    stats = (info.weight(), info.doc_frequency(), info.min_length(), info.max_length(), info.max_weight(),
             info.min_id(), info.max_id())
    return stats, blocks, postings


@pytest.mark.parametrize("compress_min", [0, 256, 10**9], ids=["all-compressed", "default", "none-compressed"])
def test_bulk_posting_lists_read_back_like_whooshs_own(compress_min: int) -> None:
    terms = _terms()
    ours, fmt = _write(terms, bulk=True, compress_min=compress_min)
    whoosh, _ = _write(terms, bulk=False, compress_min=0)
    assert list(ours.terms()) == list(whoosh.terms())
    for btext, posts in terms.items():
        got = _read(ours, fmt, btext)
        assert got == _read(whoosh, fmt, btext), btext
        assert [(d, v) for d, _, v in got[2]] == [(d, v) for d, _, v, _ in posts]
        assert len(got[1]) == -(-len(posts) // 128)  # blocks of 128 postings
