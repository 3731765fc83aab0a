"""Facet counts over a whole result set: tags and categories, counted with numpy, named as written."""

from __future__ import annotations

from collections import Counter

import numpy as np

from searchsvc.analysis import fold_text
from searchsvc.arrays import concat_ranges
from searchsvc.search.evaluate import best
from searchsvc.search.results import FacetValue
from searchsvc.store.snapshot import Snapshot

TOP_CATEGORIES = 20
TOP_TAGS = 30


class Facets:
    """Per snapshot: each tag's live documents, each document's category, and how each is written."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.tag_ids: dict[str, np.ndarray] = {}  # folded tag key → its live docnums
        self.tag_counts: Counter[str] = Counter()
        self.tag_display: dict[str, str] = {}  # folded key → as written in an article
        for key in snapshot.terms("tag_key"):
            ids = _live_postings(snapshot, "tag_key", key)
            if len(ids):
                self.tag_ids[key] = ids
                self.tag_counts[key] = len(ids)
                tags = snapshot.stored(int(ids[0])).get("tags") or []
                self.tag_display[key] = next((t for t in tags if fold_text(t) == key), key)
        self.category_keys = [""]
        self.category_codes = np.zeros(snapshot.n, np.int64)  # docnum → index into category_keys
        self.category_display: dict[str, str] = {}
        for key in snapshot.terms("category_key"):
            ids = _live_postings(snapshot, "category_key", key)
            if key and len(ids):
                self.category_codes[ids] = len(self.category_keys)
                self.category_keys.append(key)
                self.category_display[key] = snapshot.stored(int(ids[0])).get("category") or key
        # Each live document's tags (their numbers), documents in docnum order: a result's tags are then
        # gathered from its own documents, however many tags the archive has.
        docs = np.concatenate([np.zeros(0, np.int64), *self.tag_ids.values()])
        codes = np.repeat(np.arange(len(self.tag_ids)), [len(v) for v in self.tag_ids.values()])
        order = np.argsort(docs, kind="stable")
        self._tag_keys = list(self.tag_ids)
        self._doc_tags = codes[order]
        self._doc_tag_starts = np.searchsorted(docs[order], np.arange(snapshot.n + 1))

    def count(self, docs: np.ndarray) -> dict[str, list[FacetValue]]:
        """The top categories and tags among ``docs`` (distinct docnums), with how many of them each holds;
        ties in the order the index lists the keys."""
        starts, ends = self._doc_tag_starts[docs], self._doc_tag_starts[docs + 1]
        per_tag = np.bincount(self._doc_tags[concat_ranges(starts, ends - starts)], minlength=len(self._tag_keys))
        per_cat = np.bincount(self.category_codes[docs], minlength=len(self.category_keys))
        per_cat[0] = 0  # no category
        return {
            "category": [FacetValue(self.category_display.get(k, k), n) for k, n in _top(self.category_keys, per_cat,
                                                                                        TOP_CATEGORIES)],
            "tags": [FacetValue(self.tag_display.get(k, k), n) for k, n in _top(self._tag_keys, per_tag, TOP_TAGS)],
        }

    def tags(self, prefix: str, limit: int) -> list[FacetValue]:
        """Tags starting with ``prefix`` (or with a word starting with it), most used first."""
        key = fold_text(prefix)
        found = [(k, n) for k, n in self.tag_counts.items() if k.startswith(key) or f" {key}" in k]
        found.sort(key=lambda kn: (not kn[0].startswith(key), -kn[1], kn[0]))
        return [FacetValue(self.tag_display.get(k, k), n) for k, n in found[:limit]]


def _top(keys: list[str], counts: np.ndarray, k: int) -> list[tuple[str, int]]:
    """The ``k`` keys with the highest counts above 0, ties in key order (as ``Counter.most_common``), without
    going through every key in Python: an archive has tens of thousands of tags."""
    return [(keys[i], int(counts[i])) for i in best(counts, k).tolist() if counts[i]]


def _live_postings(snapshot: Snapshot, field: str, key: str) -> np.ndarray:
    ids, _ = snapshot.postings(field, key)
    return ids[snapshot.live[ids]]
