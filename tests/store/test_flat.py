"""Flat postings hold exactly the W3 postings; serving reads nothing else, so a segment needs its file.

A real-news index (300 articles of the packaged sample, two worker processes: a segment each) grows
by ``add`` until Whoosh merges the small segments, then gets one more ``add``: its reindex segments,
its merged segment and its plain ``add`` segment are read for every term of every field both through
the Snapshot (flat files) and through Whoosh's own reader (W3 postings): docnums, weights and
positions must be equal. A segment whose flat file is missing or unreadable cannot be served, and a
flat write that fails (two terms with one key) fails the reindex or ``add`` that made it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from whoosh import index as whoosh_index

from searchsvc.articles import Article
from searchsvc.errors import IndexUnavailable
from searchsvc.search.engine import Engine
from searchsvc.store import flat, writer
from searchsvc.store.home import IndexHome
from searchsvc.store.snapshot import Snapshot
from searchsvc.store.w3 import CompactPositions, FastW3Codec
from searchsvc.web.app import create_app

N_DOCS = 300
ADD_BATCH = 10
MERGING_ADDS = 6  # Whoosh's MERGE_SMALL folds the six small add segments into one on the sixth add
REINDEX_HINT = "run `searchsvc reindex"


@pytest.fixture(scope="module")
def articles(sample_articles: tuple[Article, ...]) -> list[Article]:
    # Spread over the sample: every source, NFD text, categories, tags and dates in the columns.
    return [sample_articles[i * len(sample_articles) // N_DOCS] for i in range(N_DOCS)]


@pytest.fixture(scope="module")
def extra(sample_articles: tuple[Article, ...], articles: list[Article]) -> list[Article]:
    taken = {a.id for a in articles}
    rest = [a for a in sample_articles if a.id not in taken]
    assert len(rest) >= (MERGING_ADDS + 1) * ADD_BATCH
    return rest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, articles: list[Article]) -> Path:
    home = tmp_path_factory.mktemp("flat") / "index"
    writer.build_index(articles, home, procs=2)  # a segment per worker process
    return home


@pytest.fixture(scope="module")
def grown(built: Path, extra: list[Article], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``built`` after adds that Whoosh merges (one replacing an earlier add's article), then one more add."""
    home = tmp_path_factory.mktemp("grown") / "index"
    shutil.copytree(built, home)
    reindexed = _segment_ids(home)
    for k in range(MERGING_ADDS + 1):
        batch = extra[k * ADD_BATCH:(k + 1) * ADD_BATCH]
        if k == 3:  # a deleted document inside a segment that gets merged: the merge renumbers
            batch = [*batch, dataclasses.replace(extra[0], title=extra[0].title + " (cập nhật)")]
        if k == MERGING_ADDS - 1:
            merged_away = _segment_ids(home) - reindexed
        writer.add(IndexHome(home), batch)
    return {"home": home, "reindexed": reindexed, "merged_away": merged_away, "replaced": extra[0].id,
            "last_add": extra[MERGING_ADDS * ADD_BATCH:][:ADD_BATCH]}


def _copy(home: Path, tmp_path: Path) -> Path:
    out = tmp_path / "index"
    shutil.copytree(home, out)
    return out


def _leaves(home: Path) -> list[tuple[str, int]]:
    """(segment id, documents) of each segment, in docnum order."""
    reader = whoosh_index.open_dir(str(IndexHome(home).current().path)).reader()
    return [(sub.segment().segment_id(), sub.doc_count_all()) for sub, _ in reader.leaf_readers()]


def _segment_ids(home: Path) -> set[str]:
    return {segment for segment, _ in _leaves(home)}


def _flat_names(home: Path) -> set[str]:
    return {p.name for p in IndexHome(home).current().path.glob(f"*{flat.SUFFIX}*")}


def _w3(reader: Any, fieldname: str, term: bytes, positional: bool) -> tuple[list[int], list[float], list[list[int]]]:
    """A term's postings as Whoosh's own reader decodes them from the W3 blocks (index-wide docnums)."""
    ids: list[int] = []
    weights: list[float] = []
    positions: list[list[int]] = []
    m = reader.postings(fieldname, term)
    while m.is_active():
        ids.append(m.id())
        weights.append(m.weight())
        if positional:
            positions.append(list(m.value_as("positions")))
        m.next()
    return ids, weights, positions


def _check_every_term(home: Path) -> tuple[int, int]:
    """Every term of every field: the Snapshot's postings and positions == Whoosh's W3 ones.

    Returns (terms, positional terms) checked. Numeric terms (``published_ts``) are binary, not text a
    Snapshot is asked for: they are checked in each segment's flat file directly.
    """
    gen = IndexHome(home).current()
    snap = Snapshot.open(gen)
    reader = whoosh_index.open_dir(str(gen.path)).reader()
    assert not reader.has_deletions(), "the W3 side below would skip deleted documents"
    leaves = [(flat.open_for(gen.path, sub.segment().segment_id(), sub.doc_count_all()), offset)
              for sub, offset in reader.leaf_readers()]
    assert snap.n == reader.doc_count_all() and snap.segments == len(leaves)
    checked = positional = 0
    for fieldname, term in reader.all_terms():
        is_positional = isinstance(reader.schema[fieldname].format, CompactPositions)
        ids, weights, positions = _w3(reader, fieldname, term, is_positional)
        assert ids, (fieldname, term)
        try:
            text = term.decode("utf-8")
        except UnicodeDecodeError:
            assert fieldname == "published_ts", term
            got_ids: list[int] = []
            got_weights: list[float] = []
            for segment, offset in leaves:
                span = segment.span(fieldname, term)  # type: ignore[union-attr]
                if span is not None:
                    docs, w = np.empty(span[1], np.int32), np.empty(span[1], np.float32)
                    segment.read_into(fieldname, span, docs, w)  # type: ignore[union-attr]
                    got_ids += (docs.astype(np.int64) + offset).tolist()
                    got_weights += w.tolist()
            assert (got_ids, got_weights) == (ids, np.asarray(weights, np.float32).tolist()), (fieldname, term)
            checked += 1
            continue
        docs, w = snap.postings(fieldname, text)
        assert docs.tolist() == ids, (fieldname, text)
        assert w.tolist() == np.asarray(weights, np.float32).tolist(), (fieldname, text)
        pdocs, bounds, pos = snap.positions(fieldname, text)
        if is_positional:
            assert pdocs.tolist() == ids, (fieldname, text)
            assert [pos[bounds[i]:bounds[i + 1]].tolist() for i in range(len(ids))] == positions, (fieldname, text)
            positional += 1
        else:
            assert len(pdocs) == 0 and len(pos) == 0, (fieldname, text)  # a field without positions
        checked += 1
    # Terms the index does not hold are not found (not some other term's postings).
    assert len(snap.postings("text", "không có từ này")[0]) == 0
    assert len(snap.positions("text_fold", "zzzzqq")[0]) == 0
    assert len(snap.postings("no_such_field", "viet")[0]) == 0
    snap.close()
    return checked, positional


# -- (a) flat == W3, for every kind of segment --------------------------------------------------


def test_every_term_reads_the_same_from_flat_and_w3_in_reindex_merged_and_add_segments(grown: dict[str, Any]) -> None:
    home = grown["home"]
    leaves = _leaves(home)
    reindexed = [n for segment, n in leaves if segment in grown["reindexed"]]
    later = [(segment, n) for segment, n in leaves if segment not in grown["reindexed"]]
    assert len(reindexed) == 2 and sum(reindexed) == N_DOCS, "the two reindex segments are still there"
    # One segment merged from the six adds (61 documents written, the replaced copy dropped), then
    # the last add's own segment.
    assert [n for _, n in later] == [MERGING_ADDS * ADD_BATCH, ADD_BATCH], leaves
    checked, positional = _check_every_term(home)
    assert checked > 15_000 and positional > 10_000
    # What search sees of the merged and the added segments: the replaced article once, with its new
    # title, in the merged one; the last add's articles after it.
    snap = Snapshot.open(IndexHome(home).current())
    docnum = snap.docnum(grown["replaced"])
    assert docnum is not None and N_DOCS <= docnum < N_DOCS + MERGING_ADDS * ADD_BATCH
    assert snap.stored(docnum)["title"].endswith("(cập nhật)")
    assert sum(f["id"] == grown["replaced"] for _, f in snap.documents()) == 1
    assert [snap.docnum(a.id) for a in grown["last_add"]] == list(range(snap.n - ADD_BATCH, snap.n))
    snap.close()


def test_many_terms_read_at_once_are_what_each_reads_alone_in_every_kind_of_segment(grown: dict[str, Any]) -> None:
    snap = Snapshot.open(IndexHome(grown["home"]).current())
    assert snap.segments == 4
    for field in ("text", "title", "text_fold"):
        # Every term of the field, in no order, with terms the index lacks among them.
        texts = sorted(snap.terms(field), key=lambda t: t[::-1])[:3000] + ["zzzqqq", "không có từ này"]
        many = snap.postings_many(field, texts)
        assert len(many) == len(texts)
        for text, (docs, weights) in zip(texts, many):
            alone = snap.postings(field, text)
            assert docs.dtype == np.int32 and weights.dtype == np.float32
            assert (docs.tolist(), weights.tolist()) == (alone[0].tolist(), alone[1].tolist()), (field, text)
        assert sum(len(d) for d, _ in many[:-2]) > len(texts) and len(many[-1][0]) == 0
    assert [len(d) for d, _ in snap.postings_many("no_such_field", ["viet", "nam"])] == [0, 0]
    assert snap.postings_many("text", []) == []
    snap.close()


def test_an_optimizing_merge_through_our_codec_replaces_the_flat_files_by_one_holding_the_same_postings(
        built: Path, tmp_path: Path) -> None:
    home = _copy(built, tmp_path)
    before = _flat_names(home)
    assert len(before) == 2
    gen = IndexHome(home).current().path
    whoosh_index.open_dir(str(gen)).writer(codec=FastW3Codec(), compound=False).commit(optimize=True)
    (merged, n), = _leaves(home)
    assert n == N_DOCS
    # (b) the old segments' flat files went with them; the merge wrote its own before publishing.
    assert _flat_names(home) == {f"{merged}{flat.SUFFIX}"} and not before & _flat_names(home)
    assert not [p.name for p in gen.iterdir() if ".tmp-" in p.name]
    checked, positional = _check_every_term(home)
    assert checked > 10_000 and positional > 5_000


# -- (b) Whoosh replaces a merged segment's flat file ----------------------------------------------


def test_adds_that_merge_leave_one_flat_file_per_live_segment_and_no_stale_ones(grown: dict[str, Any]) -> None:
    home = grown["home"]
    assert len(grown["merged_away"]) == MERGING_ADDS - 1
    assert not grown["merged_away"] & _segment_ids(home)
    assert _flat_names(home) == {f"{s}{flat.SUFFIX}" for s in _segment_ids(home)}
    assert not [p.name for p in IndexHome(home).current().path.iterdir() if ".tmp" in p.name]


# -- (c) no readable flat file, no serving ----------------------------------------------------------


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "tail-cut":
        path.write_bytes(data[:-8])  # the JSON directory, last in the file, loses its end
    elif how == "foreign":
        path.write_bytes(b"not a flat file" + data[15:])
    elif how == "garbled-directory":
        at = int.from_bytes(data[len(flat.MAGIC):len(flat.MAGIC) + 8], "little")
        path.write_bytes(data[:at] + b"{" * (len(data) - at))
    else:
        raise AssertionError(how)


DAMAGE = ["missing", "empty", "truncated", "tail-cut", "foreign", "garbled-directory"]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_segment_without_a_readable_flat_file_is_unavailable_everywhere(index_dir: Path, how: str) -> None:
    gen = IndexHome(index_dir).current()
    files = sorted(gen.path.glob(f"*{flat.SUFFIX}"))
    assert len(files) == 1
    _damage(files[0], how)
    for open_it in (lambda: Snapshot.open(gen), lambda: Engine.open(index_dir)):
        with pytest.raises(IndexUnavailable) as caught:
            open_it()
        assert REINDEX_HINT in caught.value.message, caught.value.message
    app = create_app({"INDEX_DIR": str(index_dir), "TESTING": True})
    response = app.test_client().get("/api/search?q=x")
    assert response.status_code == 503 and response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == "index_unavailable" and REINDEX_HINT in error["message"], error


def test_an_added_segment_without_its_flat_file_is_unavailable_too(index_dir: Path) -> None:
    home = IndexHome(index_dir)
    writer.add(home, [Article(id="n1", title="Giá vàng hôm nay", body="Giá vàng miếng tăng mạnh.")])
    first, added = (segment for segment, _ in _leaves(index_dir))
    flat.path_for(home.current().path, added).unlink()
    with pytest.raises(IndexUnavailable, match="run `searchsvc reindex") as caught:
        Snapshot.open(home.current())
    assert added in caught.value.message and first not in caught.value.message  # names the bad segment


def test_a_served_snapshot_does_not_reopen_a_commit_whose_segment_lacks_its_flat_file(index_dir: Path) -> None:
    home = IndexHome(index_dir)
    snap = Snapshot.open(home.current())
    writer.add(home, [Article(id="n1", title="Giá vàng hôm nay", body="Giá vàng miếng tăng mạnh.")])
    added = _leaves(index_dir)[-1][0]
    flat.path_for(home.current().path, added).unlink()
    with pytest.raises(IndexUnavailable, match="run `searchsvc reindex"):
        snap.reopened()
    assert snap.doc_count == 7 and len(snap.postings("text", "vàng")[0]) > 0  # the old one still reads


# -- (d) a flat write that fails fails the job ------------------------------------------------------


FRESH = [Article(id=f"n{i}", title=f"Giá vàng phiên {i}", body="Giá vàng miếng tăng mạnh.") for i in range(40)]


def _same_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flat, "term_key", lambda fieldname, term: 42)


def _home_state(home: Path) -> tuple[list[str], str | None]:
    current = home / "CURRENT"
    return sorted(p.name for p in home.iterdir() if p.name.startswith("gen-")), (
        current.read_text(encoding="utf-8") if current.exists() else None)


@pytest.mark.parametrize("procs", [1, 2])
def test_two_terms_with_one_key_fail_a_reindex_and_the_previous_generation_still_serves(
        index_dir: Path, monkeypatch: pytest.MonkeyPatch, procs: int) -> None:
    before = _home_state(index_dir)
    _same_key(monkeypatch)
    # In process a ValueError; from a worker process, the WorkerError that carries its traceback.
    with pytest.raises(Exception, match="share a 64-bit key"):
        writer.reindex(IndexHome(index_dir), FRESH, procs=procs)
    monkeypatch.undo()
    assert _home_state(index_dir) == before  # nothing published, the build folder gone
    engine = Engine.open(index_dir)
    assert engine.snapshot.generation.name == before[1].strip()  # type: ignore[union-attr]
    assert engine.snapshot.doc_count == 7 and engine.snapshot.docnum("n1") is None


def test_two_terms_with_one_key_fail_a_first_reindex_and_publish_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "index"
    _same_key(monkeypatch)
    with pytest.raises(ValueError, match="share a 64-bit key"):
        writer.build_index(FRESH, home, procs=1)
    assert _home_state(home) == ([], None)
    assert not IndexHome(home).exists()
    with pytest.raises(IndexUnavailable):
        Engine.open(home)


def test_two_terms_with_one_key_fail_an_add_and_change_nothing(index_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    home = IndexHome(index_dir)
    gen = home.current()
    toc = whoosh_index.open_dir(str(gen.path)).latest_generation()
    flats = _flat_names(index_dir)
    _same_key(monkeypatch)
    new = Article(id="n1", title="Giá vàng hôm nay", body="Giá vàng miếng tăng mạnh.")
    with pytest.raises(ValueError, match="share a 64-bit key"):
        writer.add(home, [new, dataclasses.replace(new, id="a1")])  # a new id, and a replacement
    monkeypatch.undo()
    assert whoosh_index.open_dir(str(gen.path)).latest_generation() == toc  # no commit
    assert _flat_names(index_dir) == flats
    assert home.meta(gen)["doc_count"] == 7
    snap = Engine.open(index_dir).snapshot
    assert snap.doc_count == 7 and snap.docnum("n1") is None
    assert snap.stored(snap.docnum("a1"))["title"] == "Bảo vệ trẻ em trong mùa hè"  # type: ignore[arg-type]
    # The failed writer let go of the index: the next add goes through, and is served.
    writer.add(home, [new])
    snap = Engine.open(index_dir).snapshot
    assert snap.doc_count == 8 and snap.docnum("n1") is not None
    assert _flat_names(index_dir) == {f"{s}{flat.SUFFIX}" for s in _segment_ids(index_dir)}
    assert not [name for name in os.listdir(gen.path) if ".tmp" in name]


def test_a_flat_file_of_another_segment_is_refused_not_a_500(tmp_path: Path) -> None:
    home = tmp_path / "index"
    writer.build_index([Article(id=f"x{i}", title="Giá vàng", body=f"Giá vàng tăng {i}.") for i in range(20)], home)
    writer.add(IndexHome(home), [Article(id="y", title="Giá lúa", body="Giá lúa giảm.")])
    gen = IndexHome(home).current()
    first, added = (s.segment().segment_id() for s, _ in whoosh_index.open_dir(str(gen.path)).reader().leaf_readers())
    shutil.copy(flat.path_for(gen.path, first), flat.path_for(gen.path, added))  # readable, not its own
    response = create_app({"INDEX_DIR": str(home), "TESTING": True}).test_client().get("/api/search?q=giá vàng")
    assert response.status_code == 503, response.get_json()
    with pytest.raises(IndexUnavailable, match="run `searchsvc reindex"):
        Snapshot.open(gen)


# -- (c) block maxima: each term's bound per block, in every kind of segment ------------------------


def _check_block_maxima(snap: Snapshot) -> int:
    """For every term: the blocks holding it, deleted documents included (their postings stay until a
    merge, so a bound must cover them), and in each an upper bound of its BM25 frequency part (fields with
    positions, most within the 9% by which Whoosh rounds lengths up) or its largest weight (keyword fields)."""
    checked = 0
    ratios: list[np.ndarray] = []
    for field in ("text", "text_fold", "title", "title_fold", "tag_key", "category_key"):
        lengths, average = snap.lengths(field)
        for text in snap.terms(field):
            ids, weights = snap.postings(field, text)
            block = np.searchsorted(snap.block_bounds, ids, side="right") - 1
            if field.startswith(("text", "title")):
                blocks, bounds = snap.frequency_bounds(field, text)
                exact = weights.astype(np.float64) * 2.2 / (weights + 1.2 * (0.25 + 0.75 * lengths[ids] / average))
                most = np.zeros(len(snap.block_bounds) - 1)
                np.maximum.at(most, block, exact)
                assert blocks.tolist() == np.unique(block).tolist(), (field, text)
                assert (most[blocks] <= bounds * (1 + 1e-6)).all(), (field, text)  # float32 rounding above
                ratios.append(bounds / most[blocks])
            else:
                expected = sorted({int(b): float(weights[block == b].max()) for b in np.unique(block)}.items())
                blocks, maxima = snap.block_maxima(field, text)
                assert list(zip(blocks.tolist(), maxima.tolist(), strict=True)) == expected, (field, text)
            checked += 1
    # Tight where it matters: a bound far above every score in its block would prune nothing.
    assert np.median(np.concatenate(ratios)) <= 1.1
    return checked


def test_block_maxima_bound_each_terms_scores_per_block_in_reindex_merged_and_add_segments(
        grown: dict[str, Any]) -> None:
    snap = Snapshot.open(IndexHome(grown["home"]).current())
    assert snap.segments >= 3 and len(snap.block_bounds) - 1 > snap.segments  # blocks span segments
    assert _check_block_maxima(snap) > 5000
    snap.close()


def test_block_maxima_still_cover_deleted_documents(grown: dict[str, Any], tmp_path: Path) -> None:
    home = _copy(grown["home"], tmp_path)
    victims = [a.id for a in grown["last_add"][:3]]
    before = Snapshot.open(IndexHome(home).current())
    writer.delete(IndexHome(home), victims)
    after = Snapshot.open(IndexHome(home).current())
    assert after.doc_count == before.doc_count - 3
    # Unchanged by a delete, and still every posting's (the deleted ones' too) upper bound.
    for text in ("viet", "nam", "nguoi", "cua"):
        assert [a.tolist() for a in after.block_maxima("text_fold", text)] == \
            [a.tolist() for a in before.block_maxima("text_fold", text)]
    # The average length moved (three documents fewer): the bounds still hold, at the new average.
    assert _check_block_maxima(after) > 5000
    before.close()
    after.close()


def test_a_flat_file_with_another_block_size_is_not_read(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = IndexHome(index_dir).current()
    segment, count = _leaves(index_dir)[0]
    assert flat.open_for(gen.path, segment, count) is not None
    monkeypatch.setattr(flat, "BLOCK", flat.BLOCK // 2)  # this code numbers blocks otherwise
    assert flat.open_for(gen.path, segment, count) is None
