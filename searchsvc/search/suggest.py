"""Suggestions as a reader types: query completions, then tags, then articles whose headline starts with
(or holds a word starting with) what was typed."""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from searchsvc.analysis import fold_text
from searchsvc.search.complete import Completions
from searchsvc.search.results import FacetValue, Suggestion
from searchsvc.store.snapshot import Snapshot

COMPLETIONS = 4  # of the suggestions, at most this many completions
TAGS = 2  # then at most this many tags; articles fill the rest


Row = tuple[str, str, str, str, int, int]  # folded headline, headline, id, url, published (epoch s; 0: none), docnum


def headline_rows(snapshot: Snapshot, docnums: np.ndarray) -> list[Row]:
    """What suggestions keep of each of ``docnums``: its whole stored record is read (Whoosh stores one
    record per document), so a worker reads them in batches in the background (``Engine._warm``)."""
    out: list[Row] = []
    for d in docnums.tolist():
        f = snapshot.stored(d)
        title = f.get("title") or ""
        out.append((fold_text(title), title, str(f.get("id") or ""), str(f.get("url") or ""),
                    int(snapshot.published[d]), d))
    return out


class Titles:
    """Every live headline, folded, newest first: built once per snapshot.

    The folded headlines are one string, one per line, so finding those that start with (or hold a word
    starting with) what was typed is ``str.find`` at C speed, newest first, stopping at the limit."""

    def __init__(self, snapshot: Snapshot, rows: list[Row] | None = None) -> None:
        """From ``rows`` (``headline_rows`` of every live document) when given, else read here."""
        items = headline_rows(snapshot, np.flatnonzero(snapshot.live)) if rows is None else list(rows)
        items.sort(key=lambda t: -t[4])  # newest first among equal matches
        self.items = items
        self.text = "\n" + "\n".join(t[0].replace("\n", " ") for t in items) + "\n"
        self.starts: list[int] = []
        at = 0
        for t in items:
            self.starts.append(at)
            at += len(t[0]) + 1
        self.completions = Completions(snapshot.vocabulary, (t[1] for t in items))
        self._headlines = {t[5]: (t[1], t[0]) for t in items}  # docnum → headline, folded: the second look's

    def headline(self, docnum: int) -> tuple[str, str]:
        """The headline of a live document and its ``fold_text`` (both "" for a deleted one)."""
        return self._headlines.get(docnum, ("", ""))

    def _find(self, needle: str, limit: int, skip: set[int]) -> list[int]:
        found: list[int] = []
        at = self.text.find(needle)
        while at >= 0 and len(found) < limit:
            i = bisect_right(self.starts, at) - 1  # the headline this offset is in
            if i not in skip and i not in found:
                found.append(i)
            at = self.text.find(needle, at + 1)
        return found

    def articles(self, prefix: str, limit: int) -> list[Suggestion]:
        key = " ".join(fold_text(prefix).split())
        if not key or limit <= 0:
            return []
        starts = self._find("\n" + key, limit, set())
        inner = self._find(" " + key, limit - len(starts), set(starts))
        return [Suggestion(self.items[i][1], "article", self.items[i][2], self.items[i][3]) for i in starts + inner]

    def suggest(self, prefix: str, tags: list[FacetValue], limit: int) -> list[Suggestion]:
        if not fold_text(prefix):
            return []
        out = [Suggestion(c, "completion") for c in self.completions.complete(prefix, min(COMPLETIONS, limit))]
        out += [Suggestion(t.value, "tag") for t in tags[: min(TAGS, limit - len(out))]]
        return out + self.articles(prefix, limit - len(out))
