"""The index home: numbered generations, the atomic CURRENT pointer, locks and clean-up.

Layout of a home::

    CURRENT            name of the generation that serves (replaced atomically with os.replace)
    gen-000007/        a complete Whoosh index plus meta.json (schema version, counts, times)
    gen-000008.tmp-…   a generation being built; never served, removed by the next reindex
    writer.lock        flock held while the current generation changes (add, delete, switch)
    reindex.lock       flock held for a whole reindex, so two rebuilds never race
    changes.jsonl      journal of add/delete since the oldest running reindex began

Locks are ``flock`` locks: the kernel releases them when a process dies, even by SIGKILL, so a
killed job never leaves a stale lock behind. A flock belongs to the open file, which ``fork`` shares:
the helper processes of a multi-process reindex would keep the lock (and, blocked on their dead
parent's queue, live forever) after the parent is killed. So a child forked while a lock is held
closes its copy and is set to die with its parent (``_after_fork_in_child``).
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from searchsvc.errors import IndexUnavailable, IndexVersionMismatch, LockTimeout
from searchsvc.store.schema import FORMAT_VERSION, SCHEMA_VERSION

_GEN = re.compile(r"^gen-(\d{6})$")
META = "meta.json"
FRESH_SECONDS = 2.0  # a fingerprint younger than this is not trusted: the coarsest common mtime (FAT) is 2 s
_PR_SET_PDEATHSIG = 1
_held: set[int] = set()  # descriptors of the locks this process holds


_forked_from = 0  # pid of the process that last forked, as the child sees it


def _before_fork() -> None:
    global _forked_from
    _forked_from = os.getpid()


def _after_fork_in_child() -> None:
    if not _held:
        return
    for fd in _held:
        os.close(fd)  # the parent's flock stays: it is released when the last holder closes it
    _held.clear()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    except (OSError, AttributeError):  # not Linux: the lock is safe, only the orphan may linger
        return
    if os.getppid() != _forked_from:  # the parent died before prctl took effect
        os._exit(1)


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


@dataclass(frozen=True)
class Generation:
    number: int
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


class IndexHome:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    # -- reading -------------------------------------------------------------------------------

    def current(self) -> Generation:
        """The serving generation; raises IndexUnavailable with a reason when there is none."""
        pointer = self.path / "CURRENT"
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise IndexUnavailable(f"no index in {self.path}: run `searchsvc reindex SOURCE...`") from None
        match = _GEN.match(name)
        gen_path = self.path / name
        if match is None or not gen_path.is_dir():
            raise IndexUnavailable(f"{pointer} names {name!r}, which is not a generation: run a reindex")
        return Generation(int(match.group(1)), gen_path)

    def fingerprint(self, gen: Generation) -> tuple[int, ...] | None:
        """Two stats that change whenever what ``gen`` serves could: CURRENT (``os.replace`` on a publish)
        and ``gen``'s folder (every commit adds files to it, a merge removes some; none is rewritten in
        place: see ``replica.py``). None when either changed in the last FRESH_SECONDS, or is gone: a
        change in the same clock tick as the look would leave the times equal, so only an old, quiet
        fingerprint may stand in for reading CURRENT and listing the folder."""
        try:
            pointer, folder = os.stat(self.path / "CURRENT"), os.stat(gen.path)
        except OSError:
            return None
        if time.time_ns() - max(pointer.st_mtime_ns, folder.st_mtime_ns) < FRESH_SECONDS * 1e9:
            return None
        return (pointer.st_ino, pointer.st_mtime_ns, pointer.st_size, folder.st_ino, folder.st_mtime_ns)

    def meta(self, gen: Generation) -> dict[str, Any]:
        try:
            meta: dict[str, Any] = json.loads((gen.path / META).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexUnavailable(f"{gen.path} has no readable {META}: {exc}") from None
        for name, needed in (("schema_version", SCHEMA_VERSION), ("format_version", FORMAT_VERSION)):
            if meta.get(name) != needed:
                raise IndexVersionMismatch(
                    f"index {gen.path} has {name.replace('_', ' ')} {meta.get(name)}, this searchsvc needs "
                    f"{needed}: run `searchsvc reindex SOURCE...` to rebuild it"
                )
        return meta

    def exists(self) -> bool:
        return (self.path / "CURRENT").exists()

    def generations(self) -> list[Generation]:
        gens = []
        if self.path.is_dir():
            for child in self.path.iterdir():
                m = _GEN.match(child.name)
                if m and child.is_dir():
                    gens.append(Generation(int(m.group(1)), child))
        return sorted(gens, key=lambda g: g.number)

    # -- writing -------------------------------------------------------------------------------

    def new_build_dir(self) -> tuple[int, Path]:
        """A fresh directory for the next generation, invisible to readers until published."""
        self.path.mkdir(parents=True, exist_ok=True)
        numbers = [g.number for g in self.generations()]
        for child in self.path.glob("gen-*.tmp-*"):
            m = re.match(r"^gen-(\d{6})\.tmp-", child.name)
            if m:
                numbers.append(int(m.group(1)))
        number = max(numbers, default=0) + 1
        build = self.path / f"gen-{number:06d}.tmp-{os.getpid()}"
        build.mkdir()
        return number, build

    def write_meta(self, directory: Path, meta: dict[str, Any]) -> None:
        meta = {**meta, "schema_version": SCHEMA_VERSION, "format_version": FORMAT_VERSION,
                "updated": datetime.now(UTC).isoformat()}
        tmp = directory / (META + ".tmp")
        tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, directory / META)

    def publish(self, number: int, build: Path) -> Generation:
        """Rename a finished build into place and point CURRENT at it (the caller holds writer.lock)."""
        final = self.path / f"gen-{number:06d}"
        os.replace(build, final)
        _fsync_dir(self.path)
        tmp = self.path / f"CURRENT.tmp-{os.getpid()}"
        tmp.write_text(final.name + "\n", encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / "CURRENT")
        _fsync_dir(self.path)
        return Generation(number, final)

    def clean(self, keep_previous: int = 1) -> list[str]:
        """Remove abandoned builds and generations older than the current one and ``keep_previous`` before it.

        The previous generation is kept because a serving worker may still be reading it; workers
        reopen within seconds, so by the next reindex nobody holds the older ones.
        """
        removed = []
        for child in self.path.glob("gen-*.tmp-*"):
            pid = child.name.rsplit("-", 1)[-1]
            if not (pid.isdigit() and _alive(int(pid)) and int(pid) != os.getpid()):
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child.name)
        for child in self.path.glob("CURRENT.tmp-*"):
            child.unlink(missing_ok=True)
        try:
            current = self.current().number
        except IndexUnavailable:
            return removed
        for gen in self.generations():
            if gen.number < current - keep_previous:
                shutil.rmtree(gen.path, ignore_errors=True)
                removed.append(gen.name)
        return removed

    @contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[None]:
        """An exclusive flock on ``name`` (``writer`` or ``reindex``), waiting up to ``timeout`` seconds."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout(
                            f"another job holds {self.path / (name + '.lock')} (waited {timeout:.0f} s); try again"
                        ) from None
                    time.sleep(0.05)
            _held.add(fd)
            yield
        finally:
            _held.discard(fd)
            os.close(fd)  # closing the descriptor releases the flock

    # -- the journal of incremental changes, replayed into a generation built meanwhile ---------

    @property
    def journal(self) -> Path:
        return self.path / "changes.jsonl"

    def journal_size(self) -> int:
        try:
            return self.journal.stat().st_size
        except FileNotFoundError:
            return 0

    def append_journal(self, entries: list[dict[str, Any]]) -> None:
        with open(self.journal, "a", encoding="utf-8") as fh:
            for entry in entries:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def truncate_journal(self, size: int) -> None:
        """Drop what was appended after ``size`` bytes: a change that failed must not be replayed."""
        if self.journal_size() > size:
            os.truncate(self.journal, size)

    def read_journal(self, offset: int) -> list[dict[str, Any]]:
        try:
            with open(self.journal, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in data.decode("utf-8").split("\n") if line.strip()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
