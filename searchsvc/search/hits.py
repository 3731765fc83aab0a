"""A result as shown: the stored article's fields, its headline and best passage highlighted."""

from __future__ import annotations

from searchsvc.search.results import Hit
from searchsvc.snippets import Marker, best_fragment, highlight_all
from searchsvc.store.snapshot import Snapshot


def hit(snapshot: Snapshot, docnum: int, score: float, marker: Marker | None = None) -> Hit:
    """Highlighted by ``marker`` (what the query matched), or plain without one."""
    f = snapshot.stored(docnum)
    title = f.get("title", "")
    if marker is not None:
        title_html = highlight_all(title, marker)
        snippet = best_fragment([f.get("lead", ""), f.get("body", "")], marker)
    else:
        title_html = snippet = ""
    return Hit(f["id"], title, f.get("url") or "", f.get("published"), f.get("category") or "",
               list(f.get("tags") or []), f.get("author") or "", f.get("source") or "", round(score, 4),
               title_html, snippet)
