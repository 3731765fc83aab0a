"""web/replication.py: the primary's endpoints behind their token, a replica's refusal of writes, its poller.

The primary is the real Flask app served on a loopback port by werkzeug (the replica's poller speaks
HTTP to it); the replica is the real app too, with ``REPLICA_OF`` set.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ARTICLES, AppFactory
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from searchsvc.store import writer
from searchsvc.store.home import IndexHome
from searchsvc.store.replica import MANIFEST

AUTH = {"Authorization": "Bearer s3cret"}


@pytest.fixture
def primary_app(make_app: AppFactory, index_dir: Path) -> Flask:
    return make_app(index_dir, REPLICATION_TOKEN="s3cret")


@pytest.fixture
def primary_url(primary_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, primary_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def _error_code(response: object) -> str:
    body = response.get_json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"])


def test_commit_needs_the_token_and_lists_the_served_files(primary_app: Flask, make_app: AppFactory,
                                                           index_dir: Path) -> None:
    client = primary_app.test_client()
    assert client.get("/replication/commit").status_code == 403
    wrong = client.get("/replication/commit", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and _error_code(wrong) == "forbidden"
    disabled = make_app(index_dir).test_client().get("/replication/commit", headers=AUTH)
    assert disabled.status_code == 403 and "disabled" in disabled.get_json()["error"]["message"]

    ok = client.get("/replication/commit", headers=AUTH)
    assert ok.status_code == 200 and ok.headers["Cache-Control"] == "no-store"
    manifest = ok.get_json()
    assert manifest["generation"] == IndexHome(index_dir).current().name
    assert "meta.json" in {f["path"] for f in manifest["files"]}


def test_files_are_served_byte_for_byte_and_nothing_outside_a_generation(primary_app: Flask) -> None:
    client = primary_app.test_client()
    manifest = client.get("/replication/commit", headers=AUTH).get_json()
    gen = manifest["generation"]
    for entry in manifest["files"][:4]:
        got = client.get(f"/replication/files/{gen}/{entry['path']}", headers=AUTH)
        assert got.status_code == 200
        assert len(got.data) == entry["size"] and hashlib.sha256(got.data).hexdigest() == entry["sha256"]
    assert client.get(f"/replication/files/{gen}/meta.json").status_code == 403
    for path in (f"{gen}/..%2FCURRENT", f"{gen}/MAIN_WRITELOCK", "gen-000001.tmp-1/meta.json", "..%2F../CURRENT",
                 f"{gen}/%2E%2E", "gen-999999/meta.json"):
        response = client.get(f"/replication/files/{path}", headers=AUTH)
        assert response.status_code == 404, path
        assert _error_code(response) in ("not_found",)


def _wait_for(client: FlaskClient, path: str, seconds: float = 10.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if client.get(path).status_code == 200:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{path} not served by the replica within {seconds} s")


def test_a_replica_follows_the_primary_and_refuses_writes(primary_url: str, make_app: AppFactory,
                                                           index_dir: Path, tmp_path: Path) -> None:
    replica_dir = tmp_path / "replica"
    replica = make_app(replica_dir, REPLICA_OF=primary_url, REPLICATION_TOKEN="s3cret",
                       REPLICATION_POLL_INTERVAL=0.05, OPERATOR_TOKEN="op", WARM_TERMS=0)
    client = replica.test_client()
    _wait_for(client, "/api/articles/a1")

    changed = ARTICLES[0].__class__(**{**ARTICLES[0].__dict__, "id": "new-1", "title": "Bão số 3 đổ bộ"})
    writer.add(IndexHome(index_dir), [changed])
    assert _wait_for(client, "/api/articles/new-1") < 10
    writer.delete(IndexHome(index_dir), ["a1"])
    start = time.monotonic()
    while client.get("/api/articles/a1").status_code == 200:
        assert time.monotonic() - start < 10, "the delete did not reach the replica"
        time.sleep(0.05)
    writer.reindex(IndexHome(index_dir), ARTICLES)
    _wait_for(client, "/api/articles/a1")
    served = IndexHome(replica_dir).current()
    assert (served.path / MANIFEST).exists()
    state = client.get("/replication/status", headers=AUTH).get_json()
    assert state["error"] is None and state["primary_generation"] == IndexHome(index_dir).current().name
    assert 0 <= state["seconds_since_success"] < 5 and state["last_copy_files"] > 0
    lag = [line for line in client.get("/metrics").get_data(as_text=True).splitlines()
           if line.startswith("searchsvc_replica_lag_seconds ")]
    assert lag and 0 <= float(lag[0].split()[1]) < 5  # every worker reports it, from the status file

    operator = {"Authorization": "Bearer op"}
    for response in (client.post("/api/articles", json=ARTICLES[0].__dict__ | {"published": None}, headers=operator),
                     client.delete("/api/articles/a2", headers=operator)):
        assert response.status_code == 403 and _error_code(response) == "forbidden"
        assert "replica" in response.get_json()["error"]["message"]
    assert client.get("/api/articles/a2").status_code == 200
    assert client.post("/api/related", json={"title": "trẻ em", "body": "trẻ em đến trường"}).status_code == 200


def test_a_replica_without_a_primary_answers_503_until_it_has_a_copy(make_app: AppFactory, tmp_path: Path) -> None:
    replica = make_app(tmp_path / "replica", REPLICA_OF="http://127.0.0.1:9", REPLICATION_TOKEN="s3cret",
                       REPLICATION_POLL_INTERVAL=0.05)
    client = replica.test_client()
    response = client.get("/healthz")
    assert response.status_code == 503 and _error_code(response) == "index_unavailable"
    start = time.monotonic()
    while "cannot be reached" not in str(client.get("/replication/status", headers=AUTH).get_json()["error"]):
        assert time.monotonic() - start < 10
        time.sleep(0.05)
    assert client.get("/replication/status").status_code == 403


def test_a_primary_has_no_replication_status(primary_app: Flask) -> None:
    response = primary_app.test_client().get("/replication/status", headers=AUTH)
    assert response.status_code == 404 and _error_code(response) == "not_found"
