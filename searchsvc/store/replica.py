"""Read replicas: the primary's commit as a manifest, and a replica's copy of it, verified and switched atomically.

What a commit changes on disk (checked against ``writer.py``, Whoosh and ``w3.py``): a reindex makes a
new generation folder; ``add`` and ``delete`` write segment files under fresh random names
(``MAIN_<id>.*`` and ``MAIN_<id>.flat``) and a new ``_MAIN_<n>.toc`` (a delete only rewrites the TOC: Whoosh
keeps deletions in it); a merge drops old segments. Those files never change once written. Two files
are rewritten in place: ``meta.json`` after every commit (``os.replace``, counts and times), and the TOC
*name* is reused across generations. So the manifest lists every file of the served commit with its size
and sha256, ``meta.json`` included, and a commit is named by the digest of that list: a replica notices
any change, whichever file it is in.

A replica keeps its own index home. Each primary commit it copies becomes a new local generation: files
it already holds with the same size and checksum are hard-linked from its current generation, the rest
are downloaded into the staging folder ``gen-N.tmp-<pid>`` (each to ``name.part``, verified, then renamed),
``replica.json`` (the manifest) is written last, and ``IndexHome.publish`` switches ``CURRENT``. Serving
picks the new generation up as it picks up a reindex (``Engine.refresh``). A round that fails leaves its
staging folder holding only verified files; the next round (in this process or after a restart) reuses
those whose checksum still matches, and the clean-up after the next switch discards the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC

from searchsvc.errors import IndexUnavailable, NotFound
from searchsvc.store.home import META, IndexHome, _alive

MANIFEST = "replica.json"  # in a replica's generation: the primary commit it is a copy of
_TOC = re.compile(r"^_MAIN_(\d+)\.toc$")
_GEN_NAME = re.compile(r"^gen-\d{6}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_CHUNK = 1 << 20
KEEP_PREVIOUS = 2  # local generations kept behind the current one: a worker may still read them


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """One commit of the primary: its generation folder, its TOC number and every file it is made of."""

    generation: str
    toc: int
    files: tuple[FileEntry, ...]

    @property
    def commit(self) -> str:
        listing = [[f.path, f.size, f.sha256] for f in sorted(self.files, key=lambda f: f.path)]
        return hashlib.sha256(json.dumps([self.generation, listing]).encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {"generation": self.generation, "toc": self.toc, "commit": self.commit,
                "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files]}

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """A manifest read from the wire or disk; IndexUnavailable when it is not one (or names unsafe paths)."""
        try:
            files = tuple(FileEntry(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in data["files"])
            manifest = cls(str(data["generation"]), int(data["toc"]), files)
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexUnavailable(f"the primary's manifest is malformed ({type(exc).__name__}: {exc})") from None
        bad = [f.path for f in files if not _safe(f.path) or f.size < 0 or not re.fullmatch(r"[0-9a-f]{64}", f.sha256)]
        if bad or not _GEN_NAME.match(manifest.generation) or "commit" in data and data["commit"] != manifest.commit:
            raise IndexUnavailable(f"the primary's manifest is not valid (unsafe or inconsistent entries: {bad[:3]})")
        return manifest


def _safe(name: str) -> bool:
    return bool(_SAFE_NAME.match(name)) and ".." not in name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------ the primary's side


class Checksums:
    """sha256 of files by (path, inode, size, mtime): commit files never change, so each is hashed once."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int, int, int], str] = {}
        self._lock = threading.Lock()

    def entry(self, path: Path) -> tuple[FileEntry, tuple[str, int, int, int]]:
        st = os.stat(path)
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            known = self._known.get(key)
        return FileEntry(path.name, st.st_size, known or _sha256(path)), key

    def keep_only(self, kept: dict[tuple[str, int, int, int], str]) -> None:
        with self._lock:
            self._known = kept


def _commit_files(folder: Path) -> tuple[int, list[Path]]:
    """The latest TOC of ``folder`` and the files it needs, plus the generation's own (meta, model)."""
    tocs = [int(m.group(1)) for n in os.listdir(folder) if (m := _TOC.match(n))]
    if not tocs:
        raise IndexUnavailable(f"{folder} holds no Whoosh TOC")
    toc = max(tocs)
    segments = TOC.read(FileStorage(str(folder), readonly=True), "MAIN", toc).segments
    prefixes = tuple(s.segment_id() + "." for s in segments)
    names = [f"_MAIN_{toc}.toc"]
    for name in sorted(os.listdir(folder)):
        whooshs = name.startswith(("MAIN", "_MAIN"))
        if (whooshs and name.startswith(prefixes)) or (not whooshs and not name.endswith((".tmp", ".part", ".lock"))
                                                        and name != MANIFEST):
            if (folder / name).is_file():
                names.append(name)
    return toc, [folder / n for n in names]


def commit_manifest(home: IndexHome, checksums: Checksums, attempts: int = 5) -> Manifest:
    """The manifest of the commit that serves now on the primary.

    Taken without the writer lock (serving never blocks a writer): when a commit lands while the files
    are hashed (a newer TOC, a replaced ``meta.json``, a merged-away segment), it is taken again.
    """
    for _ in range(attempts):
        gen = home.current()
        try:
            toc, paths = _commit_files(gen.path)
            meta_before = os.stat(gen.path / META).st_mtime_ns
            pairs = [checksums.entry(p) for p in paths]
            if _commit_files(gen.path)[0] != toc or os.stat(gen.path / META).st_mtime_ns != meta_before:
                continue
        except FileNotFoundError:
            continue
        if home.current().path != gen.path:
            continue
        checksums.keep_only({key: e.sha256 for e, key in pairs})
        return Manifest(gen.name, toc, tuple(e for e, _ in pairs))
    raise IndexUnavailable(f"the index in {home.path} kept changing while its manifest was taken; try again")


def open_served_file(home: IndexHome, generation: str, name: str) -> tuple[IO[bytes], int]:
    """A file of a generation the primary keeps, opened for sending; NotFound for anything else.

    Only plain names inside a published generation: no path separators, no ``..``, no build folders,
    no lock or temporary files.
    """
    kept = {g.name: g.path for g in home.generations()}
    if generation not in kept or not _safe(name) or name.endswith((".tmp", ".part", ".lock")) \
            or name.endswith("WRITELOCK"):
        raise NotFound(f"no file {name!r} in a kept generation {generation!r}")
    try:
        fh = open(kept[generation] / name, "rb")  # noqa: SIM115  # the response closes it
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NotFound(f"no file {name!r} in generation {generation!r} (a later commit may have merged it)") from None
    return fh, os.fstat(fh.fileno()).st_size


# ------------------------------------------------------------------------------------ the replica's side


@dataclass
class SyncReport:
    commit: str = ""
    generation: str = ""  # the primary's generation copied
    published: int = 0  # the local generation switched to; 0 when nothing changed
    downloaded: int = 0
    downloaded_bytes: int = 0
    linked: int = 0  # reused from the current generation
    resumed: int = 0  # reused from a half-fetched staging folder
    notes: list[str] = field(default_factory=list)


class Replica:
    """Copies the primary's serving commit into ``home``. The caller holds the home's ``replica`` lock."""

    def __init__(self, home: IndexHome, primary: str, token: str, timeout: float = 30.0) -> None:
        self.home = home
        self.primary = primary.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _open(self, path: str) -> Any:
        request = urllib.request.Request(self.primary + path, headers={"Authorization": f"Bearer {self.token}"})
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310  # the operator's URL
        except urllib.error.HTTPError as exc:
            raise IndexUnavailable(f"the primary {self.primary} answered {exc.code} to {path}") from None
        except (OSError, ValueError) as exc:
            raise IndexUnavailable(f"the primary {self.primary} cannot be reached ({exc})") from None

    def primary_manifest(self) -> Manifest:
        with self._open("/replication/commit") as response:
            try:
                data = json.loads(response.read())
            except ValueError:
                raise IndexUnavailable(f"the primary {self.primary} sent a manifest that is not JSON") from None
        return Manifest.from_json(data)

    def local_manifest(self) -> Manifest | None:
        try:
            return Manifest.from_json(json.loads((self.home.current().path / MANIFEST).read_text("utf-8")))
        except (IndexUnavailable, OSError, ValueError):
            return None

    def sync(self) -> SyncReport:
        """One round: fetch the primary's commit unless it already serves here; publish it whole or not at all."""
        manifest = self.primary_manifest()
        report = SyncReport(commit=manifest.commit, generation=manifest.generation)
        local = self.local_manifest()
        if local is not None and local.commit == manifest.commit:
            return report
        have: dict[tuple[int, str], Path] = {}
        if local is not None:
            current = self.home.current().path
            have = {(f.size, f.sha256): current / f.path for f in local.files}
        leftovers = self._leftovers()
        number, staging = self.home.new_build_dir()
        for entry in _in_writing_order(manifest.files):
            target = staging / entry.path
            source = have.get((entry.size, entry.sha256))
            if source is not None and _link(source, target):
                report.linked += 1
            elif _reuse_verified(leftovers, entry, target):
                report.resumed += 1
            else:
                self._download(manifest.generation, entry, target)
                report.downloaded += 1
                report.downloaded_bytes += entry.size
        tmp = staging / (MANIFEST + ".part")
        tmp.write_text(json.dumps(manifest.to_json(), indent=1), encoding="utf-8")
        os.replace(tmp, staging / MANIFEST)
        report.published = self.home.publish(number, staging).number
        self.home.clean(keep_previous=KEEP_PREVIOUS)
        return report

    def _leftovers(self) -> list[Path]:
        """Staging folders of earlier rounds that failed (this process's, or a dead one's): their files are verified."""
        found = []
        for child in self.home.path.glob("gen-*.tmp-*"):
            pid = child.name.rsplit("-", 1)[-1]
            if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
                found.append(child)
        return found

    def _download(self, generation: str, entry: FileEntry, target: Path) -> None:
        part = target.with_name(target.name + ".part")
        digest, size = hashlib.sha256(), 0
        path = f"/replication/files/{generation}/{urllib.parse.quote(entry.path)}"
        try:
            with self._open(path) as response, open(part, "wb") as out:
                while chunk := response.read(_CHUNK):
                    size += len(chunk)
                    if size > entry.size:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size != entry.size or digest.hexdigest() != entry.sha256:
                raise IndexUnavailable(f"{entry.path} from the primary does not match its manifest "
                                       f"({size} bytes, expected {entry.size}, or another checksum)")
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)


def _in_writing_order(files: Iterable[FileEntry]) -> list[FileEntry]:
    # The staging folder is never served, but a crash must leave it looking like a commit in progress,
    # never like a finished one: segments first, then the TOC, then meta.json.
    def rank(f: FileEntry) -> int:
        return 2 if f.path == META else 1 if _TOC.match(f.path) else 0
    return sorted(files, key=rank)


def _link(source: Path, target: Path) -> bool:
    try:
        os.link(source, target)
    except FileNotFoundError:
        return False
    except OSError:  # another file system, or no hard links there
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError:
            return False
    return True


def _reuse_verified(leftovers: list[Path], entry: FileEntry, target: Path) -> bool:
    for folder in leftovers:
        candidate = folder / entry.path
        try:
            if candidate.stat().st_size == entry.size and _sha256(candidate) == entry.sha256:
                return _link(candidate, target)
        except FileNotFoundError:
            continue
    return False
