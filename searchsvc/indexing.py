"""Reindex, add and delete: every change to an index goes through here.

A reindex builds a complete generation in a private folder (all cores, Whoosh's multi-process
writer) and publishes it atomically; ``add``/``delete`` change the current generation under the
writer lock. While a reindex runs, add/delete are also journaled, and the reindex replays that
journal into its new generation before publishing, so no update is lost to the switch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm
from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from searchsvc import bigrams, segments, vocabulary
from searchsvc.analysis import analyse, fold_text
from searchsvc.articles import Article, Rejected, article_from_mapping, article_to_mapping
from searchsvc.codec import FastW3Codec
from searchsvc.errors import InputError
from searchsvc.generations import IndexHome
from searchsvc.schema import TEXT_PARTS, build_schema

WRITER_LOCK_TIMEOUT = 60.0
_MARKER = "reindex.active"


@dataclass
class IngestReport:
    indexed: int = 0
    deleted: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    generation: int = 0
    seconds: float = 0.0


def doc_fields(a: Article) -> dict[str, Any]:
    """The Whoosh document for an article. Keys are folded so tags match regardless of case/accents."""
    doc: dict[str, Any] = {
        "id": a.id,
        "category": a.category,
        "category_key": fold_text(a.category),
        "tags": list(a.tags),
        "tag_key": ",".join(fold_text(t) for t in a.tags if fold_text(t)),
        "author": a.author,
        "author_key": fold_text(a.author),
        "url": a.url,
        "source": a.source,
    }
    if a.published is not None:
        doc["published"] = a.published.isoformat()
        doc["published_ts"] = int(a.published.timestamp())
    parts = tuple(getattr(a, name) for name in TEXT_PARTS)
    doc.update(title=a.title, title_fold=a.title, lead=a.lead, body=a.body, text=parts, text_fold=parts)
    return doc


def _articles(
    items: Iterable[Article | Rejected], report: IngestReport, progress: bool, what: str
) -> Iterator[Article]:
    bar = tqdm(items, desc=what, unit=" articles", disable=not progress, mininterval=1.0)
    for item in bar:
        if isinstance(item, Rejected):
            report.rejected.append(item)
        else:
            yield item


def build_generation(
    directory: Path, items: Iterable[Article | Rejected], procs: int, report: IngestReport, progress: bool
) -> int:
    """Write a complete index of ``items`` into the empty ``directory``; returns the document count."""
    ix = whoosh_index.create_in(str(directory), build_schema())
    procs = max(1, procs)
    articles = _articles(items, report, progress, "indexing")
    # ``procs`` worker processes each write whole segments, published together (see segments.py);
    # the fast path covers every field type our schema uses (tests/test_indexing_fast_path.py).
    assert segments.supported(ix.schema), "schema.py added a field type segments.py cannot write"
    count, observed = segments.write_index(directory, articles, doc_fields, procs, FastW3Codec(),
                                           observer=_BigramCounter)
    bigrams.save(directory, bigrams.merge(observed))
    return count


class _BigramCounter:
    """Counts the adjacent syllables of every article a reindex process indexes (a ``segments.Observer``)."""

    def __init__(self) -> None:
        self.counter = bigrams.Counter()

    def add(self, fields: dict[str, Any]) -> None:
        for part in fields["text"]:
            if part:
                self.counter.add_text(part, words=True)  # analysed a moment ago: cached

    def result(self) -> Any:
        return self.counter.result()


def reindex(
    home: IndexHome, items: Iterable[Article | Rejected], procs: int = 1, progress: bool = False
) -> IngestReport:
    start = time.monotonic()
    report = IngestReport()
    with home.lock("reindex", timeout=0.0):
        home.clean()
        with home.lock("writer", WRITER_LOCK_TIMEOUT):
            (home.path / _MARKER).write_text(str(os.getpid()), encoding="utf-8")
            journal_start = home.journal_size()
        number, build = home.new_build_dir()
        count = build_generation(build, items, procs, report, progress)
        # The accent-restoration vocabulary ships inside the generation it describes. It is built
        # before taking the writer lock (it takes seconds per thousand articles, and every add and
        # delete waits on that lock); like an add to a serving generation, replayed changes do not
        # update it.
        with whoosh_index.open_dir(str(build)).searcher() as s:
            vocabulary.save(build, vocabulary.build(s.reader()))
        with home.lock("writer", WRITER_LOCK_TIMEOUT):
            replayed = home.read_journal(journal_start)
            if replayed:
                _apply_changes(whoosh_index.open_dir(str(build)), replayed)
            with whoosh_index.open_dir(str(build)).searcher() as s:
                count = s.doc_count()
            home.write_meta(build, {"doc_count": count, "created": datetime.now(UTC).isoformat(),
                                    "rejected": len(report.rejected)})
            gen = home.publish(number, build)
            home.journal.unlink(missing_ok=True)
            (home.path / _MARKER).unlink(missing_ok=True)
        home.clean()
    report.indexed = count
    report.generation = gen.number
    report.seconds = time.monotonic() - start
    return report


def _apply_changes(ix: Any, entries: list[dict[str, Any]]) -> tuple[int, int]:
    """Apply journal-shaped entries ({"op": "add", "article": {...}} / {"op": "delete", "id": ...})."""
    # compound=False: see segments.py (a compound segment is copied into memory by every reader).
    writer: SegmentWriter = ix.writer(codec=FastW3Codec(), timeout=WRITER_LOCK_TIMEOUT, compound=False)
    added = deleted = 0
    try:
        for entry in entries:
            if entry["op"] == "add":
                article = article_from_mapping(entry["article"], max_chars=10**9)
                writer.update_document(**doc_fields(article))
                added += 1
            else:
                deleted += writer.delete_by_term("id", entry["id"])
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    return added, deleted


def _journal_if_reindexing(home: IndexHome, entries: list[dict[str, Any]]) -> None:
    marker = home.path / _MARKER
    try:
        pid = int(marker.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return  # a killed reindex: nobody will replay, and its build is discarded
    home.append_journal(entries)


def _change(home: IndexHome, entries: list[dict[str, Any]]) -> tuple[int, int, int]:
    # The first analysis in a process loads pyvi and its model (seconds): not while holding the lock
    # that every other add, delete and reindex switch waits on.
    analyse("Việt Nam")
    with home.lock("writer", WRITER_LOCK_TIMEOUT):
        gen = home.current()
        home.meta(gen)  # refuses an index of another schema version
        _journal_if_reindexing(home, entries)
        ix = whoosh_index.open_dir(str(gen.path))
        added, deleted = _apply_changes(ix, entries)
        with whoosh_index.open_dir(str(gen.path)).searcher() as s:
            count = s.doc_count()
        meta = home.meta(gen)
        home.write_meta(gen.path, {**meta, "doc_count": count})
    return added, deleted, gen.number


def add(home: IndexHome, items: Iterable[Article | Rejected], progress: bool = False) -> IngestReport:
    """Insert or replace articles (by id) in the current generation."""
    start = time.monotonic()
    report = IngestReport()
    entries = [{"op": "add", "article": article_to_mapping(a)} for a in _articles(items, report, progress, "adding")]
    if entries:
        report.indexed, _, report.generation = _change(home, entries)
    report.seconds = time.monotonic() - start
    return report


def delete(home: IndexHome, ids: Iterable[str]) -> IngestReport:
    start = time.monotonic()
    entries = [{"op": "delete", "id": i} for i in ids]
    if not entries:
        raise InputError("delete needs at least one article id")
    report = IngestReport()
    _, report.deleted, report.generation = _change(home, entries)
    report.seconds = time.monotonic() - start
    return report


def build_index(articles: Iterable[Article], index_dir: Path, procs: int = 1, quiet: bool = True) -> IngestReport:
    """A fresh generation of ``articles`` in the index home ``index_dir`` (used by eval and tests)."""
    return reindex(IndexHome(index_dir), articles, procs=procs, progress=not quiet)
