"""The reindex fast path: worker processes each build whole segments, published together in one TOC.

Whoosh's writer sends every posting through a pool of 5-tuples, sorts the pool at commit and hands the
postings one at a time to the posting writer; its multi-process writer also round-trips every document
through pickled temp files. Here a worker keeps each field's postings as flat columns (term id,
document, weight, value bytes), orders them once with numpy and writes every posting list in one call
(:class:`searchsvc.store.w3.BulkPostingsWriter`). Fields are indexed by the schema's own field objects and
the files are Whoosh's W3 segments, so what lands in the index is what ``SegmentWriter`` would write
(``tests/store/test_build.py`` compares the two).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import traceback
from array import array
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Protocol, TypeVar

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import Schema, UnknownFieldError
from whoosh.filedb.filestore import Storage
from whoosh.util.numeric import byte_to_length, length_to_byte

from searchsvc.store.analyzers import index_columns
from searchsvc.store.bulk import BulkPostingsWriter, FieldPool
from searchsvc.store.flat import path_for
from searchsvc.store.flat_write import FlatWriter
from searchsvc.store.w3 import CompactPositions

T = TypeVar("T")
Fields = dict[str, Any]

BATCH = 32  # documents per job sent to a worker
QUEUED_BATCHES_PER_WORKER = 4  # how far reading may run ahead of indexing (bounds memory)
SEGMENT_POSTINGS = 4_000_000  # a worker starts a new segment beyond this (~120 MB of pool, ~500 MB peak)


def supported(schema: Schema) -> bool:
    """Whether the fast path can index ``schema`` (no term vectors, no separate spelling fields)."""
    return not any(f.vector or f.separate_spelling() for _, f in schema.items())


class SegmentBuilder:
    """Builds one W3 segment from whole documents, with ``SegmentWriter.add_document``'s semantics."""

    def __init__(self, storage: Storage, indexname: str, schema: Schema, codec: W3Codec) -> None:
        self._storage = storage
        self._schema = schema
        self._codec = codec
        self.segment = codec.new_segment(storage, indexname)
        self._perdoc = codec.per_document_writer(storage, self.segment)
        self._pools: dict[str, FieldPool] = {}
        self._lengths: dict[str, array[int]] = {}  # per field: each document's length, byte-rounded
        self.doc_count = 0

    def postings(self) -> int:
        return sum(len(p) for p in self._pools.values())

    def add(self, fields: Fields) -> None:
        schema, perdoc, docnum = self._schema, self._perdoc, self.doc_count
        docboost = float(fields["_boost"]) if "_boost" in fields else 1.0
        names = sorted(name for name in fields if not name.startswith("_"))
        for name in names:
            if name not in schema:
                raise UnknownFieldError(f"No field named {name!r} in {schema}")
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    boostkw = f"_{name}_boost"
                    boost = float(fields[boostkw]) if boostkw in fields else docboost
                    pool = self._pools.get(name)
                    if pool is None:
                        pool = self._pools[name] = FieldPool()
                    columns = index_columns(field, value)
                    if columns is not None:
                        freq = pool.add_columns(docnum, columns, boost)
                    else:
                        freq = pool.add(docnum, field.index(value), boost)
                    if field.scorable:
                        length = freq
                customval = fields.get(f"_stored_{name}", value)
                perdoc.add_field(name, field, customval if field.stored else None, length)
                if length:
                    lengths = self._lengths.get(name)
                    if lengths is None:
                        lengths = self._lengths[name] = array("I")
                    lengths.extend([0] * (docnum + 1 - len(lengths)))
                    lengths[docnum] = byte_to_length(length_to_byte(length))
                column = field.column_type
                if column and customval is not None:
                    perdoc.add_column_value(name, column, field.to_column_value(customval))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self.doc_count += 1

    def finish(self) -> Any:
        """Writes the postings, closes the files and returns the segment.

        Not a compound file: Whoosh opens a compound segment by copying each of its parts into a
        BytesIO (the whole postings file, hundreds of MB per serving worker); separate files are read
        from the page cache, shared by every worker.
        """
        self._perdoc.close()
        fieldwriter = self._codec.field_writer(self._storage, self.segment)
        bulk = BulkPostingsWriter(fieldwriter, self._codec._blocklimit, self._codec._compression)
        folder = getattr(self._storage, "folder", None)  # a RamStorage has none: W3 postings only
        # Beside the W3 files: the same postings, decode-free, which serving reads (see flat.py).
        flat = FlatWriter(path_for(folder, self.segment.segment_id())) if folder else None
        for name in sorted(self._pools):
            pool = self._pools.pop(name)
            if not len(pool):
                continue
            lengths = self._lengths.pop(name, array("I"))
            lengths.extend([0] * (self.doc_count - len(lengths)))
            field = self._schema[name]
            bulk.start_field(name, field)
            pool.write(bulk, lengths, flat, name, isinstance(field.format, CompactPositions))
            fieldwriter.finish_field()
            del pool
        fieldwriter.close()
        if flat is not None:
            flat.finish()
        self.segment.set_doc_count(self.doc_count)
        return self.segment


class Observer(Protocol):
    """Sees every document a process indexes (after its fields were analysed); its result is returned."""

    def add(self, fields: Fields) -> None: ...

    def result(self) -> Any: ...


def build_segments(storage: Storage, indexname: str, schema: Schema, codec: W3Codec, docs: Iterable[Fields],
                   segment_postings: int, observer: Observer | None = None) -> list[Any]:
    """Segments of ``docs``, a new one whenever the current holds ``segment_postings`` postings."""
    segments: list[Any] = []
    builder: SegmentBuilder | None = None
    for fields in docs:
        if builder is None:
            builder = SegmentBuilder(storage, indexname, schema, codec)
        builder.add(fields)
        if observer is not None:
            observer.add(fields)
        if builder.postings() >= segment_postings:
            segments.append(builder.finish())
            builder = None
    if builder is not None:
        segments.append(builder.finish())
    return segments


def _worker(storage: Storage, indexname: str, schema: Schema, codec: W3Codec, to_fields: Callable[[Any], Fields],
            jobs: Any, results: Any, segment_postings: int, observer: Callable[[], Observer] | None) -> None:
    def docs() -> Iterator[Fields]:
        while (batch := jobs.get()) is not None:
            for item in batch:
                yield to_fields(item)

    try:
        seen = observer() if observer is not None else None
        segments = build_segments(storage, indexname, schema, codec, docs(), segment_postings, seen)
        results.put((os.getpid(), segments, seen.result() if seen is not None else None, None))
    except BaseException:
        results.put((os.getpid(), None, None, traceback.format_exc()))


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


class Executor(Protocol):
    """Runs the segment building of a reindex somewhere else: worker processes here (``_parallel``) or a
    Dask cluster (``cluster.py``). It returns segments whose files are in ``storage``, and the observers'
    results; it raises when any part failed, leaving nothing published."""

    def __call__(self, storage: Storage, indexname: str, schema: Schema, codec: W3Codec, items: Iterable[Any],
                 to_fields: Callable[[Any], Fields], segment_postings: int,
                 observer: Callable[[], Observer] | None) -> tuple[list[Any], list[Any]]: ...


class WorkerError(RuntimeError):
    """A worker process failed; the message carries its traceback."""


def _parallel(storage: Storage, indexname: str, schema: Schema, codec: W3Codec, items: Iterable[T],
              to_fields: Callable[[T], Fields], procs: int, segment_postings: int,
              observer: Callable[[], Observer] | None) -> tuple[list[Any], list[Any]]:
    # fork: workers inherit the loaded pyvi model and the schema instead of importing and unpickling
    # them (importing pyvi alone takes seconds); Whoosh's MpWriter forks the same way.
    ctx = multiprocessing.get_context("fork")
    jobs = ctx.Queue(maxsize=procs * QUEUED_BATCHES_PER_WORKER)
    results = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(storage, indexname, schema, codec, to_fields, jobs, results,
                                                 segment_postings, observer), daemon=True) for _ in range(procs)]
    for w in workers:
        w.start()
    segments: list[Any] = []
    observed: list[Any] = []
    try:
        for batch in _batches(items, BATCH):
            _put(jobs, batch, workers, results)
        for _ in workers:
            _put(jobs, None, workers, results)
        pending = len(workers)
        while pending:
            done, seen = _result(results, workers)
            segments.extend(done)
            observed.append(seen)
            pending -= 1
        for w in workers:
            w.join()
    except BaseException:
        for w in workers:
            if w.is_alive():
                w.terminate()
        for w in workers:
            w.join()
        raise
    return segments, observed


def _put(jobs: Any, obj: Any, workers: list[Any], results: Any) -> None:
    while True:
        try:
            jobs.put(obj, timeout=1.0)
            return
        except queue.Full:
            if any(w.exitcode is not None for w in workers):  # a worker quit before the end of the input
                _result(results, workers)
                raise WorkerError("a reindex worker exited early") from None


def _result(results: Any, workers: list[Any]) -> tuple[list[Any], Any]:
    while True:
        try:
            _, segments, seen, error = results.get(timeout=1.0)
        except queue.Empty:
            if any(w.exitcode not in (None, 0) for w in workers):
                raise WorkerError("a reindex worker died (killed, or out of memory?)") from None
            continue
        if error is not None:
            raise WorkerError(f"a reindex worker failed:\n{error}")
        return list(segments), seen


def write_index(directory: Path, items: Iterable[T], to_fields: Callable[[T], Fields], procs: int,
                codec: W3Codec, segment_postings: int = SEGMENT_POSTINGS,
                observer: Callable[[], Observer] | None = None,
                executor: Executor | None = None) -> tuple[int, list[Any]]:
    """Indexes ``items`` into the (empty, freshly created) index in ``directory`` and commits.

    ``procs`` worker processes index in parallel (1: in this process); each writes its own
    segments, and one new TOC publishes them all. Each process makes an ``observer()`` that sees its
    documents. An ``executor`` (a Dask cluster) builds the segments instead of ``procs``. Returns the
    number of documents written and the observers' results.
    """
    ix = whoosh_index.open_dir(str(directory))
    lock = ix.lock("WRITELOCK")
    if not lock.acquire(blocking=False):
        raise whoosh_index.LockError(f"{directory} is locked by another writer")
    try:
        storage, name, schema = ix.storage, ix.indexname, ix.schema
        if executor is not None:
            segments, observed = executor(storage, name, schema, codec, items, to_fields, segment_postings, observer)
        elif procs <= 1:
            seen = observer() if observer is not None else None
            segments = build_segments(storage, name, schema, codec, map(to_fields, items), segment_postings, seen)
            observed = [seen.result() if seen is not None else None]
        else:
            segments, observed = _parallel(storage, name, schema, codec, items, to_fields, procs, segment_postings,
                                           observer)
        generation = ix.latest_generation() + 1
        whoosh_index.TOC(schema, segments, generation).write(storage, name)
        whoosh_index.clean_files(storage, name, generation, segments)
    finally:
        lock.release()
    return sum(s.doc_count_all() for s in segments), observed
