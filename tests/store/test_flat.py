"""Flat postings hold exactly the W3 postings, and search reads them (or W3 where a segment has none).

A real-news index (300 articles of the packaged sample, two worker processes: a segment each) is
read both ways for every term of every field: docnums, weights and positions must be equal, for the
segments the reindex writes and for those Whoosh's own writer makes (``add``, merges). Search answers
must not change when the flat files are removed, and a segment without one is read from W3 beside
flat ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from whoosh import index as whoosh_index

from searchsvc.articles import Article
from searchsvc.search.engine import Engine, SearchRequest
from searchsvc.search.evaluate import ReaderStats, _raw, _read_postings, _read_values
from searchsvc.store import flat as flatpostings
from searchsvc.store import writer as indexing
from searchsvc.store.flat import FlatPostings, FlatWriter
from searchsvc.store.home import IndexHome
from searchsvc.store.w3 import CompactPositions, FastW3Codec, decode_many

N_DOCS = 300
QUERIES = ("việt nam", "viet nam", "\"hà nội\"", "cong an", "bóng đá", "tre em", "thủ tướng chính phủ",
           "\"trung quoc\"", "giá vàng", "tai nan giao thong", "-ha noi xe")


@pytest.fixture(scope="module")
def articles(sample_articles: tuple[Article, ...]) -> list[Article]:
    # Spread over the sample: every source, NFD text, categories, tags and dates in the columns.
    return [sample_articles[i * len(sample_articles) // N_DOCS] for i in range(N_DOCS)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, articles: list[Article]) -> Path:
    home = tmp_path_factory.mktemp("flat") / "index"
    indexing.build_index(articles, home, procs=2)  # a segment per worker process
    return home


def _copy(built: Path, tmp_path: Path) -> Path:
    home = tmp_path / "index"
    shutil.copytree(built, home)
    return home


def _w3_postings(sub: object, fieldname: str, term: bytes) -> tuple[np.ndarray, np.ndarray]:
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    _read_postings(sub.postings(fieldname, term), 0, ids, weights)  # type: ignore[attr-defined]
    return np.concatenate(ids), np.concatenate(weights)


def _check_segment(gen: Path, sub: Any) -> tuple[int, int]:
    """Every term of every field of one segment: flat == W3. Returns (terms, positional terms) checked."""
    flat = flatpostings.open_for(gen, sub.segment().segment_id())
    assert flat is not None, "the segment has its flat file"
    checked = positional = 0
    for fieldname, term in sub.all_terms():
        ids, weights = _w3_postings(sub, fieldname, term)
        got = flat.postings(fieldname, term)
        assert got is not None, (fieldname, term)
        assert got[0].tolist() == ids.tolist(), (fieldname, term)
        assert got[1].tolist() == weights.astype(np.float32).tolist(), (fieldname, term)
        if isinstance(sub.schema[fieldname].format, CompactPositions):
            w3_ids: list[np.ndarray] = []
            values: list[bytes] = []
            _read_values(sub.postings(fieldname, term), 0, w3_ids, values, None)
            bounds, positions = decode_many(values)
            fdocs, fbounds, fpositions = flat.positions(fieldname, term)  # type: ignore[misc]
            assert fdocs.tolist() == ids.tolist()
            assert fbounds.tolist() == bounds.tolist(), (fieldname, term)
            assert fpositions.tolist() == positions.tolist(), (fieldname, term)
            # And what Whoosh's own format decodes, for the first posting.
            m = _raw(sub.postings(fieldname, term))
            assert fpositions[fbounds[0]:fbounds[1]].tolist() == CompactPositions().decode_positions(m.value())
            positional += 1
        checked += 1
    # Terms that the segment does not hold are not found.
    assert flat.postings("text", "không có từ này".encode()) is None
    assert flat.positions("text_fold", b"zzzzqq") is None
    return checked, positional


def test_every_term_of_every_field_reads_the_same_from_flat_and_w3(built: Path) -> None:
    gen = IndexHome(built).current().path
    leaves = whoosh_index.open_dir(str(gen)).reader().leaf_readers()
    assert len(leaves) == 2
    counts = [_check_segment(gen, sub) for sub, _ in leaves]
    assert sum(c for c, _ in counts) > 10_000 and sum(p for _, p in counts) > 5_000


def test_search_answers_the_same_without_flat_files(built: Path, tmp_path: Path) -> None:
    flat_home = _copy(built, tmp_path / "a")
    w3_home = _copy(built, tmp_path / "b")
    removed = list(IndexHome(w3_home).current().path.glob(f"*{flatpostings.SUFFIX}"))
    assert removed
    for p in removed:
        p.unlink()
    settings = {"RESULT_CACHE": 0, "WARM_TERMS": 0}
    with_flat, without = Engine.open(flat_home, settings), Engine.open(w3_home, settings)
    stats = with_flat._derived_stats()
    assert all(f is not None for f in stats.flats)
    assert all(f is None for f in without._derived_stats().flats)
    for q in QUERIES:
        a, b = with_flat.search(SearchRequest(q=q)), without.search(SearchRequest(q=q))
        assert a.total == b.total and a.total > 0, q
        assert [(h.id, h.score) for h in a.hits] == [(h.id, h.score) for h in b.hits], q
        assert a.facets == b.facets, q


def _new_articles(n: int) -> list[Article]:
    return [Article(id=f"new-{i}", title=f"Giá vàng hôm nay tăng mạnh phiên {i}", lead="Giá vàng SJC tăng.",
                    body=f"Thị trường vàng trong nước sôi động, Hà Nội ngày {i}.") for i in range(n)]


def test_segments_written_by_add_get_flat_postings_too(built: Path, tmp_path: Path) -> None:
    home = _copy(built, tmp_path)
    indexing.add(IndexHome(home), _new_articles(3))
    gen = IndexHome(home).current().path
    leaves = whoosh_index.open_dir(str(gen)).reader().leaf_readers()
    assert len(leaves) == 3
    checked, positional = _check_segment(gen, leaves[-1][0])  # the add's segment, from Whoosh's writer
    assert checked > 20 and positional > 10
    engine = Engine.open(home, {"RESULT_CACHE": 0, "WARM_TERMS": 0})
    assert all(f is not None for f in engine._derived_stats().flats)
    ids = {h.id for h in engine.search(SearchRequest(q="giá vàng", per_page=100)).hits}
    assert {"new-0", "new-1", "new-2"} <= ids and len(ids) > 3


def test_a_segment_without_flat_postings_is_read_from_w3_beside_flat_ones(built: Path, tmp_path: Path) -> None:
    home = _copy(built, tmp_path)
    indexing.add(IndexHome(home), _new_articles(3))
    settings = {"RESULT_CACHE": 0, "WARM_TERMS": 0}
    with_file = Engine.open(home, settings)
    before = {q: with_file.search(SearchRequest(q=q)) for q in QUERIES}
    gen = IndexHome(home).current().path
    added = whoosh_index.open_dir(str(gen)).reader().leaf_readers()[-1][0].segment().segment_id()
    (gen / f"{added}{flatpostings.SUFFIX}").unlink()
    engine = Engine.open(home, settings)
    stats = engine._derived_stats()
    assert stats.flats[-1] is None and all(f is not None for f in stats.flats[:-1])
    for q in QUERIES:
        got = engine.search(SearchRequest(q=q))
        assert got.total == before[q].total, q
        assert [(h.id, h.score) for h in got.hits] == [(h.id, h.score) for h in before[q].hits], q
    ids, _ = stats.postings("text", "vàng")
    assert np.all(np.diff(ids) > 0), "docnums ascending across flat and W3 segments"
    assert {"new-0", "new-1"} <= {h.id for h in engine.search(SearchRequest(q="giá vàng", per_page=100)).hits}


def test_whoosh_replaces_flat_files_with_their_segments(built: Path, tmp_path: Path) -> None:
    home = _copy(built, tmp_path)
    gen = IndexHome(home).current().path
    before = {p.name for p in gen.glob(f"*{flatpostings.SUFFIX}")}
    # Every segment merged into a new one, through our codec as add's merges are (Whoosh's default codec,
    # say ``ix.optimize()``, writes no flat file: that segment would be read from W3).
    whoosh_index.open_dir(str(gen)).writer(codec=FastW3Codec(), compound=False).commit(optimize=True)
    after = {p.name for p in gen.glob(f"*{flatpostings.SUFFIX}")}
    assert before and not after & before
    ((merged, _),) = whoosh_index.open_dir(str(gen)).reader().leaf_readers()
    assert after == {f"{merged.segment().segment_id()}{flatpostings.SUFFIX}"}  # the merge wrote its own
    _check_segment(gen, merged)
    assert not list(gen.glob("*.tmp-*"))
    engine = Engine.open(home, {"RESULT_CACHE": 0, "WARM_TERMS": 0})
    assert engine.search(SearchRequest(q="việt nam")).total > 0


def test_damaged_flat_files_fall_back_to_w3(tmp_path: Path) -> None:
    path = tmp_path / f"MAIN_x{flatpostings.SUFFIX}"
    w = FlatWriter(path)
    w.start_field("text", 3, 4)
    w.add_postings(np.array([1, 5]), np.array([1.0, 3.0]), np.array([1, 2]), np.array([7, 1, 9]))
    w.add_postings(np.array([2]), np.array([1.5]), np.array([1]), np.array([4]))  # in chunks
    w.end_field([b"a", b"b"], np.array([0, 2, 3]))
    w.start_field("tag_key", 1)
    with pytest.raises(ValueError):
        w.add_postings(np.array([3, 4]), np.ones(2))  # more than reserved
    w.add_postings(np.array([3]), np.ones(1))
    w.end_field([b"a"], np.array([0, 1]))
    assert w.finish()
    flat = FlatPostings(path)
    docs, bounds, positions = flat.positions("text", b"a")  # type: ignore[misc]
    assert (docs.tolist(), bounds.tolist(), positions.tolist()) == ([1, 5], [0, 1, 3], [7, 1, 9])
    assert flat.postings("text", b"b")[1].tolist() == [1.5]  # type: ignore[index]
    assert flat.postings("title", b"a") is None  # the field is part of the key
    assert flat.postings("tag_key", b"a")[0].tolist() == [3]  # type: ignore[index]
    assert flat.positions("tag_key", b"a") is None  # a field without positions
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 8])
    assert flatpostings.open_for(tmp_path, "MAIN_x") is None
    path.write_bytes(b"not a flat file" + data[15:])
    assert flatpostings.open_for(tmp_path, "MAIN_x") is None
    assert flatpostings.open_for(tmp_path, "MAIN_missing") is None


def test_two_terms_with_one_key_write_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flatpostings, "term_key", lambda fieldname, term: 42)
    path = tmp_path / f"MAIN_y{flatpostings.SUFFIX}"
    w = FlatWriter(path)
    w.start_field("text", 2)
    w.add_postings(np.array([0, 1]), np.ones(2))
    w.end_field([b"a", b"b"], np.array([0, 1, 2]))
    assert not w.finish()
    assert list(tmp_path.iterdir()) == []


def test_reader_stats_cache_holds_flat_reads(built: Path) -> None:
    reader = whoosh_index.open_dir(str(IndexHome(built).current().path)).reader()
    stats = ReaderStats.of(reader, 2**20)
    first = stats.postings("text_fold", "viet")
    assert stats.postings("text_fold", "viet") is first  # cached
    assert stats.cached_bytes <= 2**20 or len(stats.cache) == 1
