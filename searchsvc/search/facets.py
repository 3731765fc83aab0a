"""Facet counts over a whole result set: tags and categories, counted with numpy, named as written."""

from __future__ import annotations

from collections import Counter

import numpy as np

from searchsvc.analysis import fold_text
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
        self._n = snapshot.n
        # Every tag's postings end to end, each with its tag's number: one pass counts all tags of a result.
        self._tag_keys = list(self.tag_ids)
        self._tag_docs = np.concatenate([np.zeros(0, np.int64), *self.tag_ids.values()])
        self._tag_codes = np.repeat(np.arange(len(self._tag_keys)), [len(v) for v in self.tag_ids.values()])

    def count(self, docs: np.ndarray) -> dict[str, list[FacetValue]]:
        """The top categories and tags among ``docs``, with how many of them each holds."""
        mask = np.zeros(self._n, bool)
        mask[docs] = True
        per_tag = np.bincount(self._tag_codes[mask[self._tag_docs]], minlength=len(self._tag_keys))
        tags = Counter(dict(zip(self._tag_keys, per_tag.tolist())))
        codes = self.category_codes[docs]
        counts = np.bincount(codes, minlength=len(self.category_keys)) if len(codes) else np.zeros(0, np.int64)
        cats = Counter({self.category_keys[i]: int(n) for i, n in enumerate(counts) if n and self.category_keys[i]})
        return {
            "category": [FacetValue(self.category_display.get(k, k), n) for k, n in cats.most_common(TOP_CATEGORIES)],
            "tags": [FacetValue(self.tag_display.get(k, k), n) for k, n in tags.most_common(TOP_TAGS) if n],
        }

    def tags(self, prefix: str, limit: int) -> list[FacetValue]:
        """Tags starting with ``prefix`` (or with a word starting with it), most used first."""
        key = fold_text(prefix)
        found = [(k, n) for k, n in self.tag_counts.items() if k.startswith(key) or f" {key}" in k]
        found.sort(key=lambda kn: (not kn[0].startswith(key), -kn[1], kn[0]))
        return [FacetValue(self.tag_display.get(k, k), n) for k, n in found[:limit]]


def _live_postings(snapshot: Snapshot, field: str, key: str) -> np.ndarray:
    ids, _ = snapshot.postings(field, key)
    return ids[snapshot.live[ids]]
