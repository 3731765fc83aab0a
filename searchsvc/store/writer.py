"""Reindex, add and delete: every change to an index goes through here.

A reindex builds a complete generation in a private folder (worker processes writing whole segments,
``build.py``), with its vocabulary and bigram table, and publishes it atomically, or publishes nothing.
``add``/``delete`` change the current generation under the writer lock. While a reindex runs, add/delete
are also journaled, and the reindex replays that journal into its new generation before publishing, so
no update is lost to the switch.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.writing import SegmentWriter

from searchsvc.analysis import analyse, fold_text
from searchsvc.analysis import clear as clear_analysis
from searchsvc.articles import Article, Rejected, Superseded, article_from_mapping, article_to_mapping
from searchsvc.errors import IndexUnavailable, InputError, JobRefused, NotFound
from searchsvc.model import bigrams, vocabulary
from searchsvc.store import build
from searchsvc.store.home import IndexHome
from searchsvc.store.progress import Progress
from searchsvc.store.schema import TEXT_PARTS, build_schema
from searchsvc.store.w3 import FastW3Codec

WRITER_LOCK_TIMEOUT = 60.0
_MARKER = "reindex.active"


@dataclass
class IngestReport:
    indexed: int = 0
    deleted: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    superseded: list[Superseded] = field(default_factory=list)  # earlier copies of an id; the last one won
    generation: int = 0
    seconds: float = 0.0


class Refused(JobRefused):
    """A job refused before it changed anything; ``report`` says what was read (the rejections to show)."""

    def __init__(self, message: str, report: IngestReport) -> None:
        super().__init__(message)
        self.report = report


def plural(count: int, noun: str) -> str:
    """``1 article``, ``2 articles``, ``1,204 ids``, ``2 processes``."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}{'es' if noun.endswith('s') else 's'}"


def _stage(progress: bool, what: str) -> None:
    # After the bar over the input ends, the rest of a job (segments finishing, the vocabulary, the
    # switch) takes seconds: each stage is named as it starts rather than leaving the bar at 100%.
    if progress:
        print(f"{what}...", file=sys.stderr, flush=True)


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


class _Intake:
    """What a job reads, as Articles; rejections and superseded copies go to the report.

    ``latest`` keeps the last copy of every id that came more than once (``ingest`` announces each
    repeat with a Superseded just before the later copy), so a reindex can put it in place of the
    copies its workers already indexed.
    """

    def __init__(self, report: IngestReport) -> None:
        self.report = report
        self.latest: dict[str, Article] = {}
        self._repeated: set[str] = set()

    def articles(self, items: Iterable[Article | Rejected | Superseded], progress: bool,
                 what: str) -> Iterator[Article]:
        bar = tqdm(items, desc=what, unit=" articles", disable=not progress, mininterval=1.0)
        for item in bar:
            if isinstance(item, Rejected):
                self.report.rejected.append(item)
            elif isinstance(item, Superseded):
                self.report.superseded.append(item)
                self._repeated.add(item.id)
            else:
                if item.id in self._repeated:
                    self.latest[item.id] = item
                yield item


def _check_rejects(report: IngestReport, max_rejects: int | None, nothing: str) -> None:
    rejected = len(report.rejected)
    if max_rejects is not None and rejected > max_rejects:
        raise Refused(f"{plural(rejected, 'record')} rejected, more than --max-rejects {max_rejects}; "
                      f"nothing was {nothing}", report)


def build_generation(directory: Path, items: Iterable[Article | Rejected | Superseded], procs: int,
                     report: IngestReport, progress: bool, executor: build.Executor | None = None) -> int:
    """Write a complete index of ``items`` into the empty ``directory``; returns the live document count."""
    intake = _Intake(report)
    ix = whoosh_index.create_in(str(directory), build_schema())
    procs = max(1, procs)
    # ``procs`` worker processes each write whole segments, published together (see build.py);
    # the fast path covers every field type our schema uses (tests/store/test_build.py).
    assert build.supported(ix.schema), "schema.py added a field type build.py cannot write"
    articles = intake.articles(items, progress, "indexing")

    def then_finishing() -> Iterator[Article]:
        yield from articles
        _stage(progress, "finishing segments " + (f"({plural(procs, 'process')})" if executor is None
                                                    else "on the cluster"))

    count, observed = build.write_index(directory, then_finishing(), doc_fields, procs, FastW3Codec(),
                                        observer=_BigramCounter, executor=executor)
    bigrams.save(directory, bigrams.merge(observed))
    if intake.latest:
        # The workers indexed every copy; the last copy of each repeated id replaces them all (a delete
        # first: Whoosh's update_document replaces only one document per unique id).
        _apply_changes(whoosh_index.open_dir(str(directory)),
                       [entry for a in intake.latest.values()
                        for entry in ({"op": "delete", "id": a.id}, {"op": "add", "article": article_to_mapping(a)})])
        with whoosh_index.open_dir(str(directory)).searcher() as s:
            count = s.doc_count()
    return count


class _BigramCounter:
    """Counts the adjacent syllables of every article a reindex process indexes (a ``build.Observer``)."""

    def __init__(self) -> None:
        self.counter = bigrams.Counter()
        # Made once per reindex process as it starts: its analysis tables start empty too, so a job's
        # memory does not depend on what the process analysed before.
        clear_analysis()

    def add(self, fields: dict[str, Any]) -> None:
        for part in fields["text"]:
            if part:
                self.counter.add_text(part, words=True)  # analysed a moment ago: cached

    def result(self) -> Any:
        return self.counter.result()


def reindex(
    home: IndexHome, items: Iterable[Article | Rejected | Superseded], procs: int = 1, progress: bool = False,
    max_rejects: int | None = None, shrink_guard: float = 0.0, executor: build.Executor | None = None,
) -> IngestReport:
    """Build a new generation of ``items`` and publish it, or publish nothing.

    Refused (nothing published, the serving generation untouched) when more than ``max_rejects``
    records were rejected, or when the new generation would hold fewer than ``shrink_guard`` times the
    serving generation's articles (a truncated feed must not empty the site's search). An ``executor``
    (``cluster.DaskExecutor``) builds the segments on other machines; the rest is the same.
    """
    start = time.monotonic()
    report = IngestReport()
    with home.lock("reindex", timeout=0.0):
        home.clean()
        with home.lock("writer", WRITER_LOCK_TIMEOUT):
            (home.path / _MARKER).write_text(str(os.getpid()), encoding="utf-8")
            journal_start = home.journal_size()
        number, folder = home.new_build_dir()
        tracker = Progress(home.path)  # for the server's /metrics: the job runs in this process, not there
        try:
            count = build_generation(folder, tracker.count(items), procs, report, progress, executor)
            _check_rejects(report, max_rejects, "published")
            _check_shrink(home, count, shrink_guard, report)
            # The accent-restoration vocabulary ships inside the generation it describes. It is built
            # before taking the writer lock (it takes seconds per thousand articles, and every add and
            # delete waits on that lock); like an add to a serving generation, replayed changes do not
            # update it.
            _stage(progress, "building the vocabulary")
            tracker.at("vocabulary")
            with whoosh_index.open_dir(str(folder)).searcher() as s:
                vocabulary.save(folder, vocabulary.build(s.reader()))
            with home.lock("writer", WRITER_LOCK_TIMEOUT):
                replayed = home.read_journal(journal_start)
                if replayed:
                    _stage(progress, f"replaying {plural(len(replayed), 'change')} made meanwhile")
                    _apply_changes(whoosh_index.open_dir(str(folder)), replayed)
                with whoosh_index.open_dir(str(folder)).searcher() as s:
                    count = s.doc_count()
                home.write_meta(folder, {"doc_count": count, "created": datetime.now(UTC).isoformat(),
                                         "rejected": len(report.rejected)})
                _stage(progress, f"publishing generation {number}")
                tracker.at("publishing")
                gen = home.publish(number, folder)
                home.journal.unlink(missing_ok=True)
                (home.path / _MARKER).unlink(missing_ok=True)
        except BaseException:
            # Nothing was published: the folder goes now, not at the next run, and adds stop journaling.
            shutil.rmtree(folder, ignore_errors=True)
            (home.path / _MARKER).unlink(missing_ok=True)
            tracker.end()
            raise
        tracker.end()
        home.clean()
    report.indexed = count
    report.generation = gen.number
    report.seconds = time.monotonic() - start
    return report


def _check_shrink(home: IndexHome, count: int, shrink_guard: float, report: IngestReport) -> None:
    if shrink_guard <= 0:
        return
    try:
        serving = int(home.meta(home.current()).get("doc_count", 0))
    except IndexUnavailable:
        return  # nothing usable serves: there is nothing to protect
    if count < shrink_guard * serving:
        raise Refused(f"the new index would hold {plural(count, 'article')}, fewer than {shrink_guard:g} of the "
                      f"{serving:,} serving now; nothing was published (pass --allow-shrink if that is meant)",
                      report)


def _apply_changes(ix: Any, entries: list[dict[str, Any]]) -> tuple[int, int]:
    """Apply journal-shaped entries ({"op": "add", "article": {...}} / {"op": "delete", "id": ...})."""
    # compound=False: see build.py (a compound segment is copied into memory by every reader).
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


def _change(home: IndexHome, entries: list[dict[str, Any]], missing_ok: bool = True) -> tuple[int, int, int]:
    # The first analysis in a process loads pyvi and its model (seconds): not while holding the lock
    # that every other add, delete and reindex switch waits on.
    analyse("Việt Nam")
    with home.lock("writer", WRITER_LOCK_TIMEOUT):
        gen = home.current()
        home.meta(gen)  # refuses an index of another schema version
        ix = whoosh_index.open_dir(str(gen.path))
        if not missing_ok:
            _refuse_missing(ix, [e["id"] for e in entries if e["op"] == "delete"])
        journaled = home.journal_size()
        _journal_if_reindexing(home, entries)
        try:
            added, deleted = _apply_changes(ix, entries)
        except BaseException:
            home.truncate_journal(journaled)  # nothing changed: a running reindex must not replay it
            raise
        with whoosh_index.open_dir(str(gen.path)).searcher() as s:
            count = s.doc_count()
        meta = home.meta(gen)
        home.write_meta(gen.path, {**meta, "doc_count": count})
    return added, deleted, gen.number


def _refuse_missing(ix: Any, ids: list[str]) -> None:
    with ix.searcher() as s:
        missing = [i for i in dict.fromkeys(ids) if next(iter(s.docs_for_query(wq.Term("id", i))), None) is None]
    if missing:
        more = f" and {len(missing) - 5:,} more" if len(missing) > 5 else ""
        shown = ", ".join(repr(i) for i in missing[:5]) + more
        raise NotFound(f"{plural(len(missing), 'id')} not in the index: {shown}; nothing was deleted "
                       "(--missing-ok deletes the others)")


def add(home: IndexHome, items: Iterable[Article | Rejected | Superseded], progress: bool = False,
        max_rejects: int | None = None) -> IngestReport:
    """Insert or replace articles (by id) in the current generation; over ``max_rejects``, nothing."""
    start = time.monotonic()
    report = IngestReport()
    intake = _Intake(report)
    latest = {a.id: a for a in intake.articles(items, progress, "adding")}  # the last copy of an id wins
    _check_rejects(report, max_rejects, "applied")
    if latest:
        entries = [{"op": "add", "article": article_to_mapping(a)} for a in latest.values()]
        report.indexed, _, report.generation = _change(home, entries)
    report.seconds = time.monotonic() - start
    return report


def delete(home: IndexHome, ids: Iterable[str], missing_ok: bool = True) -> IngestReport:
    """Delete articles by id. Unless ``missing_ok``, an id not in the index refuses the whole job (NotFound)."""
    start = time.monotonic()
    entries = [{"op": "delete", "id": i} for i in ids]
    if not entries:
        raise InputError("delete needs at least one article id")
    report = IngestReport()
    _, report.deleted, report.generation = _change(home, entries, missing_ok)
    report.seconds = time.monotonic() - start
    return report


def build_index(articles: Iterable[Article], index_dir: Path, procs: int = 1, quiet: bool = True) -> IngestReport:
    """A fresh generation of ``articles`` in the index home ``index_dir`` (used by eval and tests)."""
    return reindex(IndexHome(index_dir), articles, procs=procs, progress=not quiet)
