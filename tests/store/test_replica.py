"""store/replica.py: the primary's manifest, the files it serves, and a replica's verified copy and switch.

The primary here is a small stdlib HTTP server over the real ``commit_manifest`` and ``open_served_file``
(the Flask endpoints are tested in tests/web/test_replication.py), so a test can corrupt, cut or refuse
what it sends.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ARTICLES

from searchsvc.errors import IndexUnavailable, NotFound
from searchsvc.search.engine import Engine
from searchsvc.store import writer
from searchsvc.store.home import IndexHome
from searchsvc.store.replica import MANIFEST, Checksums, Manifest, Replica, commit_manifest, open_served_file

Tamper = Callable[[str, bytes], bytes | None]  # (file name, bytes) -> bytes to send, or None for a 404


class _Primary:
    def __init__(self, home: IndexHome) -> None:
        self.home = home
        self.checksums = Checksums()
        self.tamper: Tamper = lambda _name, data: data
        self.requests: list[str] = []


@pytest.fixture
def primary(index_dir: Path) -> Iterator[tuple[_Primary, str]]:
    state = _Primary(IndexHome(index_dir))

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            state.requests.append(self.path)
            if self.headers.get("Authorization") != "Bearer s3cret":
                return self._send(403, b"{}")
            if self.path == "/replication/commit":
                return self._send(200, json.dumps(commit_manifest(state.home, state.checksums).to_json()).encode())
            gen, name = self.path.split("/")[3:5]
            try:
                fh, _size = open_served_file(state.home, gen, name)
            except NotFound:
                return self._send(404, b"{}")
            with fh:
                data = state.tamper(name, fh.read())
            return self._send(404, b"{}") if data is None else self._send(200, data)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _ids(home: IndexHome) -> set[str]:
    engine = Engine.open(home.path, {"WARM_TERMS": 0})
    return {fields["id"] for _, fields in engine.snapshot.documents()}


def test_manifest_lists_the_served_commit_and_notices_every_kind_of_change(index_dir: Path) -> None:
    home = IndexHome(index_dir)
    checksums = Checksums()
    first = commit_manifest(home, checksums)
    names = {f.path for f in first.files}
    assert first.generation == home.current().name
    assert f"_MAIN_{first.toc}.toc" in names and {"meta.json", "vocabulary.pickle", "bigrams.npy"} <= names
    assert not any(n.endswith(("WRITELOCK", ".tmp")) for n in names)
    assert any(n.endswith(".flat") for n in names)
    for f in first.files:
        assert (home.current().path / f.path).stat().st_size == f.size

    writer.delete(home, ["a1"])  # only the TOC and meta.json change
    after_delete = commit_manifest(home, checksums)
    changed = {f.path for f in after_delete.files} ^ names
    assert changed == {f"_MAIN_{first.toc}.toc", f"_MAIN_{after_delete.toc}.toc"}
    meta = {f.path: f.sha256 for f in first.files}["meta.json"]
    assert {f.path: f.sha256 for f in after_delete.files}["meta.json"] != meta
    assert after_delete.commit != first.commit

    writer.add(home, [ARTICLES[0]])  # a new segment's files
    after_add = commit_manifest(home, checksums)
    assert len([n for n in (f.path for f in after_add.files) if n.endswith(".flat")]) == 2

    writer.reindex(home, ARTICLES)
    assert commit_manifest(home, checksums).generation != first.generation


def test_manifest_round_trips_and_refuses_unsafe_or_inconsistent_entries(index_dir: Path) -> None:
    manifest = commit_manifest(IndexHome(index_dir), Checksums())
    data = manifest.to_json()
    assert Manifest.from_json(json.loads(json.dumps(data))) == manifest
    for bad in ({**data, "files": [{"path": "../CURRENT", "size": 1, "sha256": "0" * 64}]},
                {**data, "generation": "../../etc"},
                {**data, "commit": "0" * 64},
                {**data, "files": "nope"}):
        with pytest.raises(IndexUnavailable):
            Manifest.from_json(bad)


def test_served_files_are_only_plain_files_of_kept_generations(index_dir: Path) -> None:
    home = IndexHome(index_dir)
    gen = home.current().name
    fh, size = open_served_file(home, gen, "meta.json")
    with fh:
        assert len(fh.read()) == size > 0
    for g, name in ((gen, "../CURRENT"), (gen, "MAIN_WRITELOCK"), ("gen-999999", "meta.json"), (gen, "MAIN.tmp"),
                    ("..", "CURRENT"), (gen, "missing.flat"), (gen, ".hidden")):
        with pytest.raises(NotFound):
            open_served_file(home, g, name)


def test_replica_copies_then_links_what_it_holds_and_serves_the_same(primary: tuple[_Primary, str],
                                                                     tmp_path: Path) -> None:
    state, url = primary
    local = IndexHome(tmp_path / "replica")
    replica = Replica(local, url, "s3cret")
    first = replica.sync()
    assert first.published == 1 and first.downloaded > 0 and first.linked == 0
    assert _ids(local) == _ids(state.home)
    assert replica.sync().published == 0  # unchanged: nothing fetched
    assert state.requests[-1] == "/replication/commit"

    writer.add(state.home, [ARTICLES[0]])
    second = replica.sync()
    assert second.published == 2
    assert second.linked >= first.downloaded - 2  # everything but the TOC and meta.json is linked...
    old, new = local.generations()[-2:]
    assert os.stat(old.path / "vocabulary.pickle").st_ino == os.stat(new.path / "vocabulary.pickle").st_ino
    assert json.loads((new.path / MANIFEST).read_text())["commit"] == second.commit
    writer.delete(state.home, ["a2"])
    replica.sync()
    assert _ids(local) == _ids(state.home) and "a2" not in _ids(local)


@pytest.mark.parametrize("fault", ["corrupt", "truncated", "gone"])
def test_a_bad_or_missing_file_publishes_nothing_and_the_next_round_resumes(
        primary: tuple[_Primary, str], tmp_path: Path, fault: str) -> None:
    state, url = primary
    local = IndexHome(tmp_path / "replica")
    replica = Replica(local, url, "s3cret")

    def tamper(name: str, data: bytes) -> bytes | None:
        if not name.endswith(".trm"):
            return data
        return None if fault == "gone" else data[:-1] if fault == "truncated" else b"x" + data[1:]

    state.tamper = tamper
    with pytest.raises(IndexUnavailable):
        replica.sync()
    assert not local.exists()  # never switched to a half-fetched commit
    (staging,) = list(local.path.glob("gen-*.tmp-*"))
    assert not list(staging.glob("*.part"))
    kept = {p.name for p in staging.iterdir()}
    assert kept and not any(n.endswith(".trm") for n in kept)

    state.tamper = lambda _name, data: data
    fetched_before = len(state.requests)
    report = replica.sync()
    assert report.published and report.resumed == len(kept)
    assert len(state.requests) - fetched_before == 1 + report.downloaded
    assert _ids(local) == _ids(state.home)
    assert not list(local.path.glob("gen-*.tmp-*"))  # the half-fetched folder is gone after the switch


def test_a_replica_restarted_after_a_kill_reuses_the_dead_process_staging(primary: tuple[_Primary, str],
                                                                          tmp_path: Path) -> None:
    state, url = primary
    local = IndexHome(tmp_path / "replica")
    state.tamper = lambda name, data: None if name == "meta.json" else data
    with pytest.raises(IndexUnavailable):
        Replica(local, url, "s3cret").sync()
    (staging,) = list(local.path.glob("gen-*.tmp-*"))
    dead = staging.with_name(staging.name.rsplit("-", 1)[0] + "-999999999")  # as left by a SIGKILLed replica
    staging.rename(dead)
    state.tamper = lambda _name, data: data
    report = Replica(local, url, "s3cret").sync()
    assert report.downloaded == 1 and report.resumed > 5
    assert not dead.exists()


def test_a_wrong_token_or_an_unreachable_primary_is_index_unavailable(primary: tuple[_Primary, str],
                                                                     tmp_path: Path) -> None:
    _, url = primary
    with pytest.raises(IndexUnavailable, match="403"):
        Replica(IndexHome(tmp_path / "r"), url, "wrong").sync()
    with pytest.raises(IndexUnavailable, match="cannot be reached"):
        Replica(IndexHome(tmp_path / "r"), "http://127.0.0.1:9", "s3cret", timeout=2).sync()
