"""A reindex on a Dask cluster (two worker processes on loopback) builds the index a local reindex builds.

Document numbers depend on how the input was split (chunks here, worker batches locally), so the two indexes
are compared by article id: stored fields, every field's lexicon with its Whoosh postings (weights and
positions), the flat files that serving reads, field lengths, the bigram table and the vocabulary. Failures:
a chunk that raises on a worker fails the job and the serving generation stays; an unreachable scheduler is
one line and exit 1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pytest
from distributed import LocalCluster
from whoosh import index as whoosh_index
from whoosh.fields import NUMERIC

from searchsvc.articles import Article, article_to_mapping
from searchsvc.cli import main
from searchsvc.errors import ClusterFailed
from searchsvc.model import bigrams, vocabulary
from searchsvc.sample import SAMPLE_PATH
from searchsvc.store import cluster, writer
from searchsvc.store.home import IndexHome
from searchsvc.store.snapshot import Snapshot

CHUNK_MB = 0.3  # the 394 sample articles in about five tasks, so both workers build segments


def _local_cluster() -> LocalCluster:
    # Port 0 for the scheduler's HTTP server: two clusters at once (see the lost-scheduler test) never clash.
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with _local_cluster() as lc:
        yield lc.scheduler_address


@pytest.fixture(scope="module")
def local_index(sample_articles: tuple[Article, ...], tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("local") / "index"
    writer.reindex(IndexHome(home), sample_articles, procs=2)
    return home


def _content(home: Path) -> dict[str, Any]:
    """Everything a reader can see, keyed by article id instead of document number."""
    gen = IndexHome(home).current()
    ix = whoosh_index.open_dir(str(gen.path))
    snap = Snapshot.open(gen)
    out: dict[str, Any] = {}
    try:
        with ix.searcher() as searcher:
            reader = searcher.reader()
            ids = {d: stored["id"] for d, stored in reader.iter_docs()}
            out["stored"] = {ids[d]: stored for d, stored in reader.iter_docs()}
            for name, field in ix.schema.items():
                if not field.indexed:
                    continue
                whoosh_terms, flat_terms = {}, {}
                for term in reader.lexicon(name):
                    matcher = reader.postings(name, term)
                    postings = {}
                    while matcher.is_active():
                        value = matcher.value()
                        if field.format.supports("positions"):
                            value = tuple(field.format.decode_positions(value))
                        postings[ids[matcher.id()]] = (matcher.weight(), value)
                        matcher.next()
                    whoosh_terms[term] = postings
                    if not isinstance(field, NUMERIC):
                        flat_terms[term] = _flat(snap, name, term.decode("utf-8"), ids,
                                                 field.format.supports("positions"))
                out[f"terms:{name}"] = whoosh_terms
                out[f"flat:{name}"] = flat_terms
                if field.scorable:
                    lengths, _ = snap.lengths(name)
                    out[f"lengths:{name}"] = {ids[d]: float(lengths[d]) for d in ids}
    finally:
        snap.close()
    out["bigrams"] = np.load(gen.path / bigrams.FILE)
    vocab = vocabulary.load(gen.path)
    assert vocab is not None
    out["vocabulary"] = {k: v for k, v in vars(vocab).items() if k != "bigrams"}
    out["doc_count"] = IndexHome(home).meta(gen)["doc_count"]
    return out


def _flat(snap: Snapshot, name: str, text: str, ids: dict[int, str], positional: bool) -> dict[str, Any]:
    docs, weights = snap.postings(name, text)
    got: dict[str, Any] = {ids[int(d)]: float(w) for d, w in zip(docs, weights, strict=True)}
    if positional:
        pdocs, bounds, positions = snap.positions(name, text)
        for i, d in enumerate(pdocs.tolist()):
            got[ids[d]] = (got[ids[d]], tuple(positions[bounds[i]:bounds[i + 1]].tolist()))
    return got


def test_a_cluster_reindex_builds_the_index_a_local_reindex_builds(scheduler: str, local_index: Path,
                                                                     tmp_path: Path) -> None:
    home = tmp_path / "index"
    with cluster.connect(scheduler, timeout=30, chunk_mb=CHUNK_MB) as executor:
        from searchsvc.ingest import read_sources

        report = writer.reindex(IndexHome(home), read_sources([str(SAMPLE_PATH)]), executor=executor)
        stats = executor.stats
    assert report.indexed == 394
    assert stats.workers == 2 and stats.tasks >= 4 and stats.segments == stats.tasks
    assert stats.bytes_out > 1_000_000 and stats.bytes_in > stats.bytes_out  # segments weigh more than articles
    assert Snapshot.open(IndexHome(home).current()).segments == stats.segments

    cluster_content, local_content = _content(home), _content(local_index)
    assert cluster_content.keys() == local_content.keys()
    for key in local_content:
        if key == "bigrams":
            assert np.array_equal(cluster_content[key], local_content[key])
        else:
            assert cluster_content[key] == local_content[key], key
    assert len(local_content["flat:text"]) > 1000 and len(local_content["stored"]) == 394


def test_the_cli_reindexes_on_the_cluster(scheduler: str, sample_articles: tuple[Article, ...], tmp_path: Path,
                                          runner: Any) -> None:
    source = tmp_path / "some.jsonl"
    source.write_text("".join(json.dumps(article_to_mapping(a), ensure_ascii=False) + "\n"
                              for a in sample_articles[:40]), encoding="utf-8")
    home = tmp_path / "index"
    result = runner.invoke(main, ["--index-dir", str(home), "reindex", "--scheduler", scheduler, str(source)],
                           env={"SEARCHSVC_SCHEDULER_CHUNK_MB": "0.05"})
    assert result.exit_code == 0, result.output
    assert "finishing segments on the cluster" in result.output
    assert "indexed 40 articles into generation 1" in result.output
    snapshot = Snapshot.open(IndexHome(home).current())
    assert snapshot.doc_count == 40 and snapshot.segments >= 2


class _FailsOn:
    """``doc_fields``, except for one article: pickled by value, so the workers run this very code."""

    def __init__(self, article_id: str) -> None:
        self.article_id = article_id

    def __call__(self, article: Article) -> dict[str, Any]:
        if article.id == self.article_id:
            raise ValueError(f"broken article {article.id}")
        return writer.doc_fields(article)


cloudpickle.register_pickle_by_value(sys.modules[__name__])


def test_a_chunk_that_fails_on_a_worker_fails_the_job_and_the_old_generation_serves(
        scheduler: str, local_index: Path, sample_articles: tuple[Article, ...], tmp_path: Path) -> None:
    home = tmp_path / "index"
    writer.reindex(IndexHome(home), sample_articles[:50])
    broken = sample_articles[300].id

    with cluster.connect(scheduler, timeout=30, chunk_mb=CHUNK_MB) as executor:
        def failing(storage: Any, name: str, schema: Any, codec: Any, items: Any, to_fields: Any,
                    segment_postings: int, observer: Any) -> Any:
            return executor(storage, name, schema, codec, items, _FailsOn(broken), segment_postings, observer)

        with pytest.raises(ClusterFailed, match=f"ValueError: broken article {broken}; nothing was published"):
            writer.reindex(IndexHome(home), sample_articles, executor=failing)
    assert IndexHome(home).current().number == 1
    assert [g.number for g in IndexHome(home).generations()] == [1]
    assert not list(home.glob("gen-*.tmp-*"))  # the build folder went with the job
    assert Snapshot.open(IndexHome(home).current()).doc_count == 50


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on return: nothing listens there


def test_an_unreachable_scheduler_is_one_line_and_exit_1(local_index: Path, tmp_path: Path, runner: Any) -> None:
    home = tmp_path / "index"
    address = f"tcp://127.0.0.1:{_closed_port()}"
    result = runner.invoke(main, ["--index-dir", str(home), "reindex", "--scheduler", address, str(SAMPLE_PATH)],
                           env={"SEARCHSVC_SCHEDULER_TIMEOUT": "0.5"})
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: cannot reach the Dask scheduler at {address} within 0.5 s (OSError); nothing was changed"]
    assert not IndexHome(home).exists()


def test_a_scheduler_lost_during_the_job_fails_it_and_the_old_generation_serves(
        sample_articles: tuple[Article, ...], tmp_path: Path) -> None:
    home = tmp_path / "index"
    writer.reindex(IndexHome(home), sample_articles[:50])
    lost = _local_cluster()

    def articles() -> Iterator[Article]:
        for i, article in enumerate(sample_articles):
            if i == 200:  # chunks are out on the workers by now
                lost.close()
            yield article

    try:
        with cluster.connect(lost.scheduler_address, timeout=30, chunk_mb=CHUNK_MB) as executor:
            with pytest.raises(ClusterFailed, match=r"^lost the Dask scheduler at tcp://127\.0\.0\.1:\d+ .*; "
                                                    r"nothing was published$"):
                writer.reindex(IndexHome(home), articles(), executor=executor)
    finally:
        lost.close()
    assert [g.number for g in IndexHome(home).generations()] == [1] and IndexHome(home).current().number == 1
    assert not list(home.glob("gen-*.tmp-*"))


def test_a_worker_killed_during_the_job_has_its_chunk_rerun_elsewhere(sample_articles: tuple[Article, ...],
                                                                       tmp_path: Path) -> None:
    home = tmp_path / "index"
    with _local_cluster() as lc, cluster.connect(lc.scheduler_address, timeout=30, chunk_mb=CHUNK_MB) as executor:
        victim = next(iter(executor.client.run(os.getpid).values()))

        def articles() -> Iterator[Article]:
            for i, article in enumerate(sample_articles):
                if i == 250:  # both workers hold chunks by now
                    os.kill(victim, signal.SIGKILL)
                yield article

        report = writer.reindex(IndexHome(home), articles(), executor=executor)
    assert report.indexed == len(sample_articles)
    snapshot = Snapshot.open(IndexHome(home).current())
    assert sorted(stored["id"] for _, stored in snapshot.documents()) == sorted(a.id for a in sample_articles)


def test_a_scheduler_without_workers_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    with LocalCluster(n_workers=0, processes=True, host="127.0.0.1", dashboard_address=":0") as empty:
        with pytest.raises(ClusterFailed, match=r"has no workers \(waited 0\.5 s"):
            with cluster.connect(empty.scheduler_address, timeout=0.5):
                pytest.fail("connected to a cluster without workers")


def test_an_interrupted_cluster_reindex_publishes_nothing_and_cancels_its_tasks(
        scheduler: str, sample_articles: tuple[Article, ...], tmp_path: Path) -> None:
    home = tmp_path / "index"
    writer.reindex(IndexHome(home), sample_articles[:50])

    def articles() -> Iterator[Article]:
        for i, article in enumerate(sample_articles):
            if i == 200:
                raise KeyboardInterrupt  # Ctrl-C while chunks are out on the workers
            yield article

    with cluster.connect(scheduler, timeout=30, chunk_mb=CHUNK_MB) as executor:
        with pytest.raises(KeyboardInterrupt):
            writer.reindex(IndexHome(home), articles(), executor=executor)
        # The chunks left the workers: nothing processing for a whole second. One empty answer is not
        # enough: ``processing()`` is a call of its own and can reach the scheduler before the batched
        # submit of the last chunks (and their cancel) does.
        deadline, quiet_since = time.monotonic() + 30, time.monotonic()
        while time.monotonic() - quiet_since < 1.0:
            assert time.monotonic() < deadline, f"chunks still on the workers: {executor.client.processing()}"
            if any(executor.client.processing().values()):
                quiet_since = time.monotonic()
            time.sleep(0.05)
    assert [g.number for g in IndexHome(home).generations()] == [1] and not list(home.glob("gen-*.tmp-*"))
