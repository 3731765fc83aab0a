"""Suggestions as a reader types: tags, then headlines that start with (or contain a word starting with) it."""

from __future__ import annotations

from searchsvc.analysis import fold_text
from searchsvc.search.results import FacetValue, Suggestion
from searchsvc.store.snapshot import Snapshot

TAGS = 3  # suggestions that may be tags, before headlines


class Titles:
    """Every live headline, folded, newest first: built once per snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        published = snapshot.published
        items = [(fold_text(f.get("title") or ""), f.get("title") or "", int(published[d]))
                 for d, f in snapshot.documents()]
        items.sort(key=lambda t: -t[2])  # newest first among equal matches
        self.items = items

    def suggest(self, prefix: str, tags: list[FacetValue], limit: int) -> list[Suggestion]:
        key = fold_text(prefix)
        if not key:
            return []
        out = [Suggestion(t.value, "tag") for t in tags[:TAGS]]
        starts = [t for t in self.items if t[0].startswith(key)]
        inner = [t for t in self.items if f" {key}" in t[0] and not t[0].startswith(key)]
        for _, title, _ in (starts + inner)[: max(0, limit - len(out))]:
            out.append(Suggestion(title, "title"))
        return out
