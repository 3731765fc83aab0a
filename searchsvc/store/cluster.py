"""A reindex whose analysis and segment building run on a Dask cluster (``reindex --scheduler tcp://HOST:8786``).

The coordinator (the CLI process) reads the input, as a local reindex does, and sends it in chunks; each
task is :func:`searchsvc.store.build.build_segments`, the local workers' own function, run in a scratch folder
on a worker. The worker does not share the coordinator's disk, so the task ships back its finished segment
files as bytes, with the segment objects and the bigram counts; the coordinator writes the files into the
generation being built, and ``build.write_index`` publishes them in one TOC exactly as after a local build.

Any failure fails the job: a task that raises (the worker's exception is named), a scheduler that cannot be
reached or goes away, no workers at all. The caller (``writer.reindex``) then publishes nothing. A worker
that dies is not a failure by itself: the scheduler reruns its task elsewhere (a task only reads its input
and writes its own scratch folder, so a rerun is safe), up to Dask's ``allowed-failures``.

Segments are published in the order of their chunks in the input, whatever order the tasks finish in, so
two cluster reindexes of one input give the same document numbers.
"""

from __future__ import annotations

import pickle
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import Schema
from whoosh.filedb.filestore import FileStorage, Storage

from searchsvc.errors import ClusterFailed
from searchsvc.store import build

IN_FLIGHT_PER_WORKER = 2  # chunks queued per worker: one running, one ready (bounds the coordinator's memory)


@dataclass
class ClusterStats:
    """What a cluster reindex cost, for ``bench/cluster_reindex.py`` (bytes as pickled or as files)."""

    workers: int = 0
    tasks: int = 0
    segments: int = 0
    bytes_out: int = 0  # articles and the build's settings, to the workers
    bytes_in: int = 0  # segment files and counts, back to the coordinator
    worker_cpu: float = 0.0  # CPU seconds the tasks took, summed over workers
    worker_seconds: float = 0.0  # wall seconds the tasks took, summed over workers


@dataclass(frozen=True)
class _Shipped:
    """A task's answer: its segments, their files (name → bytes) and its observer's result."""

    segments: list[Any]
    files: dict[str, bytes]
    observed: Any
    cpu: float
    seconds: float


def _build_chunk(static: bytes, batches: list[bytes]) -> _Shipped:
    """Runs on a worker: the chunk's segments, built in a scratch folder and read back as bytes."""
    started, cpu = time.perf_counter(), time.process_time()
    indexname, schema, codec, to_fields, segment_postings, observer = pickle.loads(static)
    seen = observer() if observer is not None else None

    def docs() -> Iterator[Any]:
        for batch in batches:
            yield from map(to_fields, pickle.loads(batch))

    with tempfile.TemporaryDirectory(prefix="searchsvc-segments-") as scratch:
        segments = build.build_segments(FileStorage(scratch), indexname, schema, codec, docs(), segment_postings,
                                        seen)
        files = {p.name: p.read_bytes() for p in sorted(Path(scratch).iterdir()) if p.is_file()}
    return _Shipped(segments, files, seen.result() if seen is not None else None, time.process_time() - cpu,
                    time.perf_counter() - started)


def _chunks(items: Iterable[Any], chunk_bytes: int) -> Iterator[tuple[str, list[bytes]]]:
    """The input as chunks of pickled batches, each about ``chunk_bytes`` (pickled once, counted once), with
    the chunk's first item to name it in an error."""
    first, size = "", 0
    chunk: list[bytes] = []
    for batch in build._batches(items, build.BATCH):
        if not chunk:
            first = str(getattr(batch[0], "id", batch[0]))[:80]
        chunk.append(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
        size += len(chunk[-1])
        if size >= chunk_bytes:
            yield first, chunk
            chunk, size = [], 0
    if chunk:
        yield first, chunk


class DaskExecutor:
    """A ``build.Executor`` over a connected ``distributed.Client``; ``stats`` describes the last run."""

    def __init__(self, client: Any, address: str, chunk_bytes: int) -> None:
        self.client = client
        self.address = address
        self.chunk_bytes = chunk_bytes
        self.stats = ClusterStats()

    def __call__(self, storage: Storage, indexname: str, schema: Schema, codec: W3Codec, items: Iterable[Any],
                 to_fields: Callable[[Any], build.Fields], segment_postings: int,
                 observer: Callable[[], build.Observer] | None) -> tuple[list[Any], list[Any]]:
        from distributed import as_completed

        folder = Path(storage.folder)  # type: ignore[attr-defined]  # a reindex builds in a FileStorage
        self.stats = stats = ClusterStats(workers=len(self.client.scheduler_info().get("workers", {})))
        static = pickle.dumps((indexname, schema, codec, to_fields, segment_postings, observer),
                              protocol=pickle.HIGHEST_PROTOCOL)
        pending: dict[Any, int] = {}  # future → its chunk's place in the input
        firsts: list[str] = []  # each chunk's first item, to name it in an error
        shipped: dict[int, _Shipped] = {}
        done = as_completed(loop=self.client.loop)
        try:
            with self._scheduler_calls():
                # A key of its own (not the data's hash): two jobs with the same settings on one scheduler,
                # one releasing its copy as the next scatters it, never share or lose one.
                static_future = self.client.scatter(static, broadcast=True, hash=False)
            stats.bytes_out += len(static) * max(1, stats.workers)
            limit = IN_FLIGHT_PER_WORKER * max(1, stats.workers)
            for first, chunk in _chunks(items, self.chunk_bytes):
                firsts.append(first)
                with self._scheduler_calls():
                    future = self.client.submit(_build_chunk, static_future, chunk, pure=False)
                pending[future] = len(firsts) - 1
                done.add(future)
                stats.bytes_out += sum(map(len, chunk))
                while len(pending) >= limit:
                    self._collect(next(done), pending, firsts, shipped, folder)
            while pending:
                self._collect(next(done), pending, firsts, shipped, folder)
        except BaseException:
            if pending:
                with suppress(Exception):  # best effort: the scheduler may be gone already
                    self.client.cancel(list(pending))
            raise
        segments = [s for i in sorted(shipped) for s in shipped[i].segments]
        stats.tasks, stats.segments = len(shipped), len(segments)
        return segments, [shipped[i].observed for i in sorted(shipped)]

    @contextmanager
    def _scheduler_calls(self) -> Iterator[None]:
        """What the client raises when the scheduler is gone, as one line."""
        try:
            yield
        except (OSError, RuntimeError, TimeoutError, CancelledError) as exc:
            raise ClusterFailed(f"lost the Dask scheduler at {self.address} "
                                f"({type(exc).__name__}: {_first_line(exc)}); nothing was published") from None

    def _collect(self, future: Any, pending: dict[Any, int], firsts: list[str], shipped: dict[int, _Shipped],
                 folder: Path) -> None:
        place = pending.pop(future)
        if future.status == "error":
            exc = future.exception()  # the task's own exception, or KilledWorker when every worker it ran on died
            raise ClusterFailed(f"a cluster worker failed on chunk {place + 1} (from article {firsts[place]!r}): "
                                f"{type(exc).__name__}: {_first_line(exc)}; nothing was published")
        with self._scheduler_calls():  # a future is cancelled when the scheduler goes away
            result: _Shipped = future.result()
        for name, data in result.files.items():
            with open(folder / name, "xb") as fh:  # "x": two chunks never share a (random) segment id
                fh.write(data)
        stats = self.stats
        stats.bytes_in += sum(map(len, result.files.values())) + len(pickle.dumps((result.segments, result.observed)))
        stats.worker_cpu += result.cpu
        stats.worker_seconds += result.seconds
        shipped[place] = _Shipped(result.segments, {}, result.observed, result.cpu, result.seconds)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]  # errors print as one line (cli.py)


@contextmanager
def connect(address: str, timeout: float, chunk_mb: float = 16) -> Iterator[DaskExecutor]:
    """A ``DaskExecutor`` on the scheduler at ``address``, waiting ``timeout`` seconds for it and a worker."""
    try:
        from distributed import Client
    except ImportError:
        raise ClusterFailed("--scheduler needs the cluster extra: pip install 'searchsvc[cluster]'") from None
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterFailed(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                            f"({type(exc).__name__}); nothing was changed") from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ClusterFailed(f"the Dask scheduler at {address} has no workers (waited {timeout:g} s, "
                                f"{type(exc).__name__}); nothing was changed") from None
        yield DaskExecutor(client, address, int(chunk_mb * 1024 * 1024))
    finally:
        client.close()


@contextmanager
def executor_for(address: str, timeout: float, chunk_mb: float) -> Iterator[DaskExecutor | None]:
    """``connect`` when ``address`` names a scheduler; None (a local reindex) when it is empty."""
    if not address:
        yield None
        return
    with connect(address, timeout, chunk_mb) as executor:
        yield executor
