"""Reindex, add and delete semantics under concurrency and interruption.

The contract these tests pin down:

* one writer at a time: ``add``/``delete`` and a reindex's switch take ``writer.lock``; a job that
  cannot get it within WRITER_LOCK_TIMEOUT fails with LockTimeout (HTTP 503 ``index_busy``) and
  changes nothing; two reindexes never run at once (the second fails at once);
* concurrent ``add`` jobs are serialised, so every article of each lands;
* an add or delete made while a reindex builds is applied to the serving generation at once and
  replayed into the new generation before it is published; one made before the reindex began is
  replaced by the reindex's sources (a reindex is a full rebuild);
* a reindex that dies leaves CURRENT as it was; the next one removes its half-built folder.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from searchsvc.articles import Article
from searchsvc.cli import main
from searchsvc.errors import IndexVersionMismatch, LockTimeout
from searchsvc.search.engine import Engine, SearchRequest
from searchsvc.store import writer
from searchsvc.store.home import IndexHome

FORK = multiprocessing.get_context("fork")


def art(i: str, title: str = "Giá vàng hôm nay", body: str = "Giá vàng miếng tăng mạnh trong phiên sáng.") -> Article:
    return Article(id=i, title=title, body=body, tags=("Kinh tế",))


def ids_in(home: Path) -> set[str]:
    return {f["id"] for _, f in Engine.open(home).snapshot.documents()}


def gated(articles: list[Article], gate: Path, after: int) -> Iterator[Article]:
    """Yield ``after`` articles, say so, then wait for ``gate`` to exist before yielding the rest."""
    for n, a in enumerate(articles):
        if n == after:
            (gate.parent / "waiting").touch()
            while not gate.exists():
                time.sleep(0.01)
        yield a


def _reindex_child(home: Path, articles: list[Article], gate: Path, after: int) -> None:
    writer.reindex(IndexHome(home), gated(articles, gate, after), procs=1)


def _add_child(home: Path, articles: list[Article]) -> None:
    writer.add(IndexHome(home), articles)


def start_gated_reindex(home: Path, articles: list[Article], tmp_path: Path) -> tuple[Any, Path]:
    gate = tmp_path / "go"
    proc = FORK.Process(target=_reindex_child, args=(home, articles, gate, len(articles) // 2))
    proc.start()
    deadline = time.monotonic() + 60
    while not (tmp_path / "waiting").exists():
        assert proc.is_alive() and time.monotonic() < deadline, "the reindex did not start building"
        time.sleep(0.01)
    return proc, gate


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "index"
    writer.reindex(IndexHome(path), [art(f"old{i}") for i in range(5)])
    return path


def test_two_add_processes_at_once_lose_nothing(home: Path) -> None:
    batches = [[art(f"p{p}-{i}") for i in range(30)] for p in range(2)]
    procs = [FORK.Process(target=_add_child, args=(home, batch)) for batch in batches]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    expected = {f"old{i}" for i in range(5)} | {a.id for batch in batches for a in batch}
    assert ids_in(home) == expected
    meta = IndexHome(home).meta(IndexHome(home).current())
    assert meta["doc_count"] == 65


def test_add_during_reindex_is_served_at_once_and_replayed_into_the_new_generation(home: Path, tmp_path: Path) -> None:
    sources = [art(f"new{i}") for i in range(6)]
    proc, gate = start_gated_reindex(home, sources, tmp_path)
    try:
        report = writer.add(IndexHome(home), [art("late", title="Bão số 3 đổ bộ")])
        assert report.generation == 1
        assert "late" in ids_in(home)  # the serving generation has it now
    finally:
        gate.touch()
        proc.join(120)
    assert proc.exitcode == 0
    assert IndexHome(home).current().number == 2
    assert ids_in(home) == {f"new{i}" for i in range(6)} | {"late"}
    assert not IndexHome(home).journal.exists()
    assert not (home / "reindex.active").exists()


def test_an_add_during_reindex_replaces_the_sources_version(home: Path, tmp_path: Path) -> None:
    sources = [art(f"new{i}") for i in range(6)]
    proc, gate = start_gated_reindex(home, sources, tmp_path)
    try:
        writer.add(IndexHome(home), [art("new5", title="Sửa lại tiêu đề")])
    finally:
        gate.touch()
        proc.join(120)
    assert proc.exitcode == 0
    engine = Engine.open(home)
    assert engine.article("new5")["title"] == "Sửa lại tiêu đề"


def test_delete_during_reindex_is_replayed(home: Path, tmp_path: Path) -> None:
    sources = [art("old0"), *(art(f"new{i}") for i in range(6))]
    proc, gate = start_gated_reindex(home, sources, tmp_path)
    try:
        report = writer.delete(IndexHome(home), ["old0", "new1"])  # new1 is not served yet
        assert report.deleted == 1
        assert "old0" not in ids_in(home)
    finally:
        gate.touch()
        proc.join(120)
    assert proc.exitcode == 0
    assert ids_in(home) == {f"new{i}" for i in range(6)} - {"new1"}


def test_writer_lock_timeout_is_a_clear_error_and_changes_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "WRITER_LOCK_TIMEOUT", 0.2)
    with IndexHome(home).lock("writer", timeout=1.0):
        with pytest.raises(LockTimeout, match=r"another job holds .*writer\.lock.*try again"):
            writer.add(IndexHome(home), [art("blocked")])
        with pytest.raises(LockTimeout):
            writer.delete(IndexHome(home), ["old0"])
        result = CliRunner().invoke(main, ["--index-dir", str(home), "delete", "old1"])
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: another job holds") and "Traceback" not in result.stderr
    assert ids_in(home) == {f"old{i}" for i in range(5)}


def test_a_second_reindex_fails_at_once_while_one_runs(home: Path, tmp_path: Path) -> None:
    proc, gate = start_gated_reindex(home, [art(f"new{i}") for i in range(4)], tmp_path)
    try:
        with pytest.raises(LockTimeout, match="reindex.lock"):
            writer.reindex(IndexHome(home), [art("other")])
    finally:
        gate.touch()
        proc.join(120)
    assert proc.exitcode == 0 and IndexHome(home).current().number == 2


def test_a_killed_reindex_leaves_current_and_the_next_one_cleans_up(home: Path, tmp_path: Path) -> None:
    proc, _gate = start_gated_reindex(home, [art(f"new{i}") for i in range(6)], tmp_path)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    assert sorted(p.name for p in home.glob("gen-*")) == ["gen-000001", f"gen-000002.tmp-{proc.pid}"]
    assert IndexHome(home).current().number == 1
    assert ids_in(home) == {f"old{i}" for i in range(5)}
    # Nobody will replay a journal for a dead reindex: an add now goes to the serving generation only.
    writer.add(IndexHome(home), [art("after-kill")])
    assert "after-kill" in ids_in(home)

    report = writer.reindex(IndexHome(home), [art("fresh")])
    assert report.generation == 2  # the dead build was removed first, so its number is free again
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(("gen-", "CURRENT", "reindex.active"))) == [
        "CURRENT", "gen-000001", "gen-000002"]
    assert ids_in(home) == {"fresh"}


def test_an_index_of_another_schema_version_is_refused_with_a_message(home: Path) -> None:
    gen = IndexHome(home).current()
    meta = (gen.path / "meta.json").read_text().replace('"schema_version": ', '"schema_version": 1000 + ')
    (gen.path / "meta.json").write_text(meta.replace("1000 + ", "99"))
    with pytest.raises(IndexVersionMismatch, match=r"schema version 99\d*, this searchsvc needs"):
        writer.add(IndexHome(home), [art("x")])
    with pytest.raises(IndexVersionMismatch, match="searchsvc reindex"):
        Engine.open(home)
    result = CliRunner().invoke(main, ["--index-dir", str(home), "stats"])
    assert result.exit_code == 1 and "this searchsvc needs" in result.stderr
    writer.reindex(IndexHome(home), [art("rebuilt")])  # a reindex is the way out
    assert Engine.open(home).search(SearchRequest(q="giá vàng")).total == 1


def _writer_lock_is_free(home: Path) -> bool:
    try:
        with IndexHome(home).lock("writer", timeout=0.0):
            return True
    except LockTimeout:
        return False


def test_slow_work_is_done_before_taking_the_writer_lock(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every add, delete and reindex switch waits on writer.lock (60 s at most), so what takes
    # seconds under load (the vocabulary of a whole generation; loading pyvi) happens outside it.
    seen: dict[str, bool] = {}
    build, warm = writer.vocabulary.build, writer.analyse

    def vocabulary_build(reader: Any) -> Any:
        seen["vocabulary"] = _writer_lock_is_free(home)
        return build(reader)

    def analyse(text: str, words: bool = True) -> Any:
        seen.setdefault("analysis", _writer_lock_is_free(home))
        return warm(text, words)

    monkeypatch.setattr(writer.vocabulary, "build", vocabulary_build)
    monkeypatch.setattr(writer, "analyse", analyse)
    writer.reindex(IndexHome(home), [art("v1")])
    writer.add(IndexHome(home), [art("v2")])
    assert seen == {"vocabulary": True, "analysis": True}


def test_a_failed_add_during_a_reindex_is_not_journaled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = IndexHome(tmp_path / "index")
    writer.reindex(home, [art("old0")])
    (home.path / "reindex.active").write_text(str(os.getpid()), encoding="utf-8")  # a reindex is running
    writer.add(home, [art("journaled")])
    size = home.journal_size()
    assert size > 0

    def broken(ix: Any, entries: list[dict[str, Any]]) -> tuple[int, int]:
        raise OSError("disk full")

    monkeypatch.setattr(writer, "_apply_changes", broken)
    with pytest.raises(OSError):
        writer.add(home, [art("failed")])
    assert home.journal_size() == size  # the reindex replays the change that landed, not the one that failed
    assert [e["article"]["id"] for e in home.read_journal(0)] == ["journaled"]
