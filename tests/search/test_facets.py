"""search.facets: tag and category counts over a whole result set, named as the articles write them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from searchsvc.search.facets import Facets
from searchsvc.search.results import FacetValue
from searchsvc.store.home import IndexHome
from searchsvc.store.snapshot import Snapshot
from searchsvc.store.writer import delete


def ids_of(snapshot: Snapshot, *article_ids: str) -> np.ndarray:
    return np.array([snapshot.docnum(a) for a in article_ids])


def test_counts_over_the_given_documents(index_dir: Path) -> None:
    snapshot = Snapshot.open(IndexHome(index_dir).current())
    facets = Facets(snapshot)
    got = facets.count(ids_of(snapshot, "a1", "a5", "a7"))
    assert got["tags"][0] == FacetValue("Trẻ em", 3)
    assert {v.value: v.count for v in got["tags"]} == {"Trẻ em": 3, "Giáo dục": 2, "Doanh nghiệp": 1}
    assert {v.value: v.count for v in got["category"]} == {"Xã hội": 1, "Kinh doanh": 1, "Giáo dục": 1}
    assert facets.count(np.zeros(0, np.int64)) == {"category": [], "tags": []}


def test_tags_by_prefix_as_written_and_without_deleted_articles(index_dir: Path) -> None:
    facets = Facets(Snapshot.open(IndexHome(index_dir).current()))
    assert facets.tags("tre", 5) == [FacetValue("Trẻ em", 3)]
    assert facets.tags("dục", 5) == [FacetValue("Giáo dục", 2)]  # a word of the tag starts with it
    delete(IndexHome(index_dir), ["a6"])
    assert Facets(Snapshot.open(IndexHome(index_dir).current())).tags("gia vang", 5) == []
