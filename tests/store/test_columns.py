"""Whoosh's columns read as whole arrays give, document by document, what Whoosh's own readers give.

A real index of several segments: the reindexed sample (dated articles), an ``add`` of undated articles
only (a segment without the publication column), and an ``add`` mixing both (a column with gaps), then a
deletion.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from searchsvc.articles import VIETNAM_TZ, Article
from searchsvc.store import columns, writer
from searchsvc.store.home import IndexHome
from searchsvc.store.snapshot import Snapshot
from searchsvc.store.w3 import open_index

UNDATED = Article(id="u-1", title="Trẻ em vùng cao đến trường", lead="", body="Học sinh vượt suối.")
MIXED = (
    Article(id="m-undated", title="Giá vàng hôm nay", lead="", body="Giá vàng miếng tăng."),
    Article(id="m-dated", title="Hà Nội đón mùa mưa", lead="Mưa lớn.", body="Phố ngập sâu.",
            published=datetime(2024, 5, 1, 8, 0, tzinfo=VIETNAM_TZ)),
    Article(id="m-old", title="Ảnh tư liệu", lead="", body="Một bức ảnh cũ.",  # before the epoch: negative
            published=datetime(1969, 12, 31, 8, 0, tzinfo=VIETNAM_TZ)),
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, sample_articles: tuple[Article, ...]) -> Path:
    out = tmp_path_factory.mktemp("columns") / "index"
    writer.build_index(list(sample_articles[:60]), out, procs=1)
    writer.add(IndexHome(out), [UNDATED])
    writer.add(IndexHome(out), list(MIXED))
    writer.delete(IndexHome(out), [sample_articles[3].id])
    return out


@pytest.fixture(scope="module")
def leaves(home: Path) -> list:
    searcher = open_index(IndexHome(home).current().path).searcher()
    return [sub for sub, _ in searcher.reader().leaf_readers()]


def test_the_index_has_segments_with_without_and_with_gaps_in_the_publication_column(leaves: list) -> None:
    assert len(leaves) == 3
    assert [sub.has_column("published_ts") for sub in leaves] == [True, False, True]


@pytest.mark.parametrize("field", ["text", "text_fold", "title", "title_fold", "id"])
def test_field_lengths_are_whoosh_s_per_document_lengths(leaves: list, field: str) -> None:
    for sub in leaves:
        got = columns.field_lengths(sub, field)
        want = [sub.doc_field_length(d, field, 0) for d in range(sub.doc_count_all())]
        assert got.dtype == np.float32 and got.tolist() == want
    assert any(columns.field_lengths(sub, "text").max() > 255 for sub in leaves)  # past one byte's range


def test_int_column_is_whoosh_s_per_document_values(leaves: list) -> None:
    for sub in leaves:
        got = columns.int_column(sub, "published_ts", 0)
        want = list(sub.column_reader("published_ts")) if sub.has_column("published_ts") else [0] * sub.doc_count_all()
        assert got.dtype == np.int64 and got.tolist() == want
    assert columns.int_column(leaves[2], "published_ts", 0)[2] == int(MIXED[2].published.timestamp()) < 0  # type: ignore[union-attr]


def test_stored_fields_are_whoosh_s_per_document_fields(leaves: list) -> None:
    for sub in leaves:
        read = columns.stored_fields(sub)
        for d in range(sub.doc_count_all()):
            assert read(d) == dict(sub.stored_fields(d))
    assert columns.stored_fields(leaves[1])(0)["title"] == UNDATED.title


def test_a_snapshot_s_stored_fields_are_found_in_their_segment(home: Path) -> None:
    snap = Snapshot.open(IndexHome(home).current())
    assert [snap.stored(d)["id"] for d in range(60, 64)] == ["u-1", "m-undated", "m-dated", "m-old"]
    assert snap.stored(62)["body"] == MIXED[1].body
    with pytest.raises(IndexError):
        snap.stored(64)
    with pytest.raises(IndexError):
        snap.stored(-1)


def test_a_snapshot_s_publication_times_and_live_documents_cover_every_segment(home: Path,
                                                                             sample_articles: tuple) -> None:
    snap = Snapshot.open(IndexHome(home).current())
    dated = [a for a in sample_articles[:60] if a.published]
    assert snap.n == 64 and snap.doc_count == 63 and not snap.live[3] and snap.live.sum() == 63
    published = snap.published.tolist()
    assert published[:60] == [int(a.published.timestamp()) if a.published else 0 for a in sample_articles[:60]]
    # Undated, and before the epoch, are unknown (0).
    assert len(dated) > 30 and published[60:] == [0, 0, int(MIXED[1].published.timestamp()), 0]  # type: ignore[union-attr]
    replaced = dataclasses.replace(sample_articles[0], title="Tiêu đề mới")
    writer.add(IndexHome(home), [replaced])  # an update deletes the old copy in the first segment
    again = Snapshot.open(IndexHome(home).current())
    assert not again.live[0] and again.live[-1] and again.doc_count == 63
