"""The index home: the CURRENT pointer, publishing, clean-up, flock locks and the journal."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from searchsvc.errors import IndexUnavailable, IndexVersionMismatch, LockTimeout
from searchsvc.store.home import IndexHome
from searchsvc.store.schema import FORMAT_VERSION, SCHEMA_VERSION


def _published(home: IndexHome) -> int:
    number, build = home.new_build_dir()
    home.write_meta(build, {"doc_count": 0})
    return home.publish(number, build).number


def _wait_dead(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} is still alive after {timeout} s")


def test_no_current_pointer_is_unavailable_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable, match="run `searchsvc reindex"):
        IndexHome(tmp_path / "index").current()


def test_a_pointer_to_a_missing_generation_is_unavailable(tmp_path: Path) -> None:
    home = IndexHome(tmp_path)
    (tmp_path / "CURRENT").write_text("gen-000009\n")
    with pytest.raises(IndexUnavailable, match="not a generation"):
        home.current()
    (tmp_path / "CURRENT").write_text("../../etc\n")
    with pytest.raises(IndexUnavailable, match="not a generation"):
        home.current()


def test_publish_switches_current_and_numbers_increase(tmp_path: Path) -> None:
    home = IndexHome(tmp_path)
    assert _published(home) == 1
    assert _published(home) == 2
    assert home.current().name == "gen-000002"
    assert (tmp_path / "CURRENT").read_text() == "gen-000002\n"
    assert not list(tmp_path.glob("CURRENT.tmp-*"))


def test_a_build_in_progress_is_never_current_and_takes_a_fresh_number(tmp_path: Path) -> None:
    home = IndexHome(tmp_path)
    _published(home)
    number, build = home.new_build_dir()
    assert (number, home.current().number) == (2, 1)
    assert build.name == f"gen-000002.tmp-{os.getpid()}"
    assert home.new_build_dir()[0] == 3  # an abandoned build's number is not reused while it exists


def test_meta_of_another_schema_version_names_both_versions(tmp_path: Path) -> None:
    home = IndexHome(tmp_path)
    _published(home)
    gen = home.current()
    meta = json.loads((gen.path / "meta.json").read_text())
    (gen.path / "meta.json").write_text(json.dumps({**meta, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(IndexVersionMismatch) as info:
        home.meta(gen)
    assert f"schema version {SCHEMA_VERSION + 1}" in info.value.message
    assert f"needs {SCHEMA_VERSION}" in info.value.message
    assert "searchsvc reindex" in info.value.message


def test_meta_without_the_format_version_is_refused(tmp_path: Path) -> None:
    # An index written before FORMAT_VERSION existed (it may have segments without flat postings).
    home = IndexHome(tmp_path)
    _published(home)
    gen = home.current()
    meta = json.loads((gen.path / "meta.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION
    for written in ({k: v for k, v in meta.items() if k != "format_version"}, {**meta, "format_version": 0}):
        (gen.path / "meta.json").write_text(json.dumps(written))
        with pytest.raises(IndexVersionMismatch) as info:
            home.meta(gen)
        assert f"needs {FORMAT_VERSION}" in info.value.message and "searchsvc reindex" in info.value.message


def test_unreadable_meta_is_unavailable(tmp_path: Path) -> None:
    home = IndexHome(tmp_path)
    _published(home)
    (home.current().path / "meta.json").write_text("{not json")
    with pytest.raises(IndexUnavailable, match="meta.json"):
        home.meta(home.current())


def test_clean_removes_dead_builds_and_old_generations_keeps_live_builds_and_the_previous(tmp_path: Path) -> None:
    home = IndexHome(tmp_path)
    for _ in range(4):
        _published(home)
    dead = tmp_path / "gen-000005.tmp-999999999"  # no such pid
    live = tmp_path / f"gen-000006.tmp-{os.getppid()}"  # alive: another job's build in progress
    dead.mkdir()
    live.mkdir()
    (tmp_path / "CURRENT.tmp-123").write_text("gen-000001\n")
    removed = home.clean()
    assert sorted(removed) == ["gen-000001", "gen-000002", dead.name]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("gen-")) == [
        "gen-000003", "gen-000004", live.name]
    assert not (tmp_path / "CURRENT.tmp-123").exists()


def test_lock_is_exclusive_and_times_out_with_a_clear_error(tmp_path: Path) -> None:
    home = IndexHome(tmp_path)
    with home.lock("writer", timeout=1.0):
        started = time.monotonic()
        with pytest.raises(LockTimeout) as info, home.lock("writer", timeout=0.2):
            pass
        assert time.monotonic() - started >= 0.2
        assert "writer.lock" in info.value.message and "try again" in info.value.message
        assert info.value.status == 503 and info.value.code == "index_busy"
        with home.lock("reindex", timeout=0.0):  # another name is another lock
            pass
    with home.lock("writer", timeout=0.0):  # released on exit
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    home = IndexHome(tmp_path)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        with home.lock("writer", timeout=5.0):
            (tmp_path / "held").touch()
            time.sleep(60)
        os._exit(0)
    try:
        while not (tmp_path / "held").exists():
            time.sleep(0.01)
        with pytest.raises(LockTimeout):
            with home.lock("writer", timeout=0.0):
                pass
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    with home.lock("writer", timeout=0.0):
        pass


def test_a_child_forked_under_a_lock_neither_keeps_it_nor_outlives_its_parent(tmp_path: Path) -> None:
    # A multi-process reindex forks helpers while it holds reindex.lock. Killed, it must not leave
    # them holding the lock (the next reindex would fail) or running forever.
    home = IndexHome(tmp_path)
    holder = os.fork()
    if holder == 0:  # pragma: no cover - the lock holder
        try:
            with home.lock("reindex", timeout=5.0):
                helper = os.fork()
                if helper == 0:
                    time.sleep(120)
                    os._exit(0)
                (tmp_path / "helper").write_text(str(helper))
                time.sleep(120)
        finally:
            os._exit(0)
    try:
        while not (tmp_path / "helper").exists() or not (tmp_path / "helper").read_text():
            time.sleep(0.01)
        helper = int((tmp_path / "helper").read_text())
    finally:
        os.kill(holder, signal.SIGKILL)
        os.waitpid(holder, 0)
    try:
        _wait_dead(helper)
    finally:
        try:
            os.kill(helper, signal.SIGKILL)
        except ProcessLookupError:
            pass
    with home.lock("reindex", timeout=0.0):
        pass


def test_journal_reads_from_an_offset(tmp_path: Path) -> None:
    home = IndexHome(tmp_path)
    assert home.journal_size() == 0 and home.read_journal(0) == []
    home.append_journal([{"op": "delete", "id": "a"}])
    offset = home.journal_size()
    home.append_journal([{"op": "add", "article": {"id": "b", "title": "Tiêu đề"}}, {"op": "delete", "id": "c"}])
    assert home.read_journal(offset) == [
        {"op": "add", "article": {"id": "b", "title": "Tiêu đề"}}, {"op": "delete", "id": "c"}]
    assert len(home.read_journal(0)) == 3


def _age(*paths: Path, seconds: float = 60.0) -> None:
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


def test_a_fingerprint_is_trusted_only_once_it_is_old_and_changes_with_a_commit_or_a_publish(tmp_path: Path) -> None:
    home = IndexHome(tmp_path)
    _published(home)
    gen = home.current()
    assert home.fingerprint(gen) is None  # just written: a change in the same clock tick would not show
    _age(home.path / "CURRENT", gen.path)
    mark = home.fingerprint(gen)
    assert mark is not None and home.fingerprint(gen) == mark
    (gen.path / "_MAIN_2.toc").write_bytes(b"")  # a commit adds files to the generation's folder
    _age(home.path / "CURRENT", gen.path, seconds=30.0)
    assert home.fingerprint(gen) not in (None, mark)
    mark = home.fingerprint(gen)
    _published(home)  # CURRENT replaced
    _age(home.path / "CURRENT", seconds=30.0)
    assert home.fingerprint(gen) not in (None, mark)


def test_a_fingerprint_of_a_removed_generation_is_none(tmp_path: Path) -> None:
    home = IndexHome(tmp_path)
    _published(home)
    gen = home.current()
    _age(home.path / "CURRENT", gen.path)
    gen.path.rename(tmp_path / "elsewhere")
    assert home.fingerprint(gen) is None
