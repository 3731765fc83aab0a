"""search.facets: tag and category counts over a whole result set, named as the articles write them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from searchsvc.analysis import fold_text
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


def test_counts_are_a_plain_recount_of_the_stored_tags_and_categories_over_real_results(sample_engine: Any) -> None:
    snapshot = sample_engine.snapshot
    facets = Facets(snapshot)
    stored = {d: f for d, f in snapshot.documents()}
    keys = list(snapshot.terms("tag_key"))  # the order ties keep
    rng = np.random.default_rng(3)
    live = np.flatnonzero(snapshot.live)
    for size in (1, 5, 40, len(live)):
        docs = np.sort(rng.choice(live, size, replace=False))
        tags: Counter[str] = Counter({k: 0 for k in keys})
        cats: Counter[str] = Counter()
        for d in docs.tolist():
            tags.update({fold_text(t) for t in stored[d].get("tags") or []})
            if stored[d].get("category"):
                cats[fold_text(stored[d]["category"])] += 1
        got = facets.count(docs)
        assert [(fold_text(v.value), v.count) for v in got["tags"]] == [kn for kn in tags.most_common(30) if kn[1]]
        assert sorted((fold_text(v.value), v.count) for v in got["category"]) == sorted(cats.most_common(20))
    # Over everything: many tags, some tied (their order is the index's key order, as checked above).
    assert len(got["tags"]) > 20 and len({v.count for v in got["tags"]}) < len(got["tags"])
