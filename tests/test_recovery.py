"""A worker that finds no usable index answers 503 with the JSON error shape, and recovers by itself
(same app object, no restart) as soon as a good generation is published."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from searchsvc.articles import Article
from searchsvc.store import writer
from searchsvc.store.home import IndexHome
from searchsvc.web.app import create_app

ROUTES = ("/api/search?q=gi%C3%A1+v%C3%A0ng", "/healthz", "/api/tags", "/api/suggest?q=gia", "/api/articles/g1",
          "/api/tags/Kinh%20t%E1%BA%BF", "/api/articles/g1/related")


def client_for(home: Path) -> FlaskClient:
    return create_app({"INDEX_DIR": str(home), "TESTING": True, "RELOAD_INTERVAL": 0.0}).test_client()


def good(home: Path, ident: str = "g1") -> None:
    article = Article(id=ident, title="Giá vàng tăng mạnh", body="Giá vàng miếng tăng.", tags=("Kinh tế",))
    writer.reindex(IndexHome(home), [article])


def assert_unavailable(client: FlaskClient, code: str = "index_unavailable") -> None:
    for route in ROUTES:
        response = client.get(route)
        assert response.status_code == 503, (route, response.data)
        assert response.mimetype == "application/json"
        body = response.get_json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        assert body["error"]["code"] == code and body["error"]["message"]


def assert_serving(client: FlaskClient, ident: str = "g1") -> None:
    for route in ROUTES:
        response = client.get(route.replace("g1", ident))
        assert response.status_code == 200, (route, response.data)
    assert client.get("/api/search?q=gia+vang").get_json()["hits"][0]["id"] == ident


def test_no_index_is_503_then_serves_once_one_is_built(tmp_path: Path) -> None:
    home = tmp_path / "index"
    client = client_for(home)
    assert_unavailable(client)
    assert "searchsvc reindex" in client.get("/healthz").get_json()["error"]["message"]
    good(home)
    assert_serving(client)


def _corrupt_toc(gen: Path) -> None:
    for toc in gen.glob("_MAIN_*.toc"):
        toc.write_bytes(b"\x00garbage")


def _remove_toc(gen: Path) -> None:
    for toc in gen.glob("_MAIN_*.toc"):
        toc.unlink()


def _truncate_segments(gen: Path) -> None:
    # Every file of every segment (MAIN_<id>.trm/.pst/.col/..., or a compound MAIN_<id>.seg).
    segments = [f for f in gen.glob("MAIN_*") if f.name != "MAIN_WRITELOCK"]
    assert segments
    for seg in segments:
        seg.write_bytes(b"")


def _remove_meta(gen: Path) -> None:
    (gen / "meta.json").unlink()


def _garbage_meta(gen: Path) -> None:
    (gen / "meta.json").write_text("{")


def _remove_generation(gen: Path) -> None:
    shutil.rmtree(gen)


@pytest.mark.parametrize("damage", [_corrupt_toc, _remove_toc, _truncate_segments, _remove_meta, _garbage_meta,
                                    _remove_generation])
def test_a_damaged_generation_is_503_on_a_cold_start_and_recovers(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "index"
    good(home)
    damage(IndexHome(home).current().path)
    client = client_for(home)
    assert_unavailable(client)
    good(home, "g2")
    assert_serving(client, "g2")


@pytest.mark.parametrize("damage", [_corrupt_toc, _remove_toc, _remove_meta, _remove_generation])
def test_a_worker_that_was_serving_turns_503_when_the_index_breaks_and_recovers(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "index"
    good(home)
    client = client_for(home)
    assert_serving(client)
    # A new generation that is broken when published (a bad copy, a disk fault): not the old one's data.
    good(home, "g2")
    damage(IndexHome(home).current().path)
    assert_unavailable(client)
    good(home, "g3")
    assert_serving(client, "g3")


def test_a_garbage_current_pointer_is_503_and_recovers(tmp_path: Path) -> None:
    home = tmp_path / "index"
    good(home)
    client = client_for(home)
    (home / "CURRENT").write_text("nonsense\n")
    assert_unavailable(client)
    (home / "CURRENT").write_text("gen-000001\n")
    assert_serving(client)


def test_an_index_of_another_schema_version_is_503_with_its_own_code(tmp_path: Path) -> None:
    home = tmp_path / "index"
    good(home)
    meta_path = IndexHome(home).current().path / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "schema_version": -1}))
    client = client_for(home)
    assert_unavailable(client, "index_version_mismatch")
    assert "this searchsvc needs" in client.get("/healthz").get_json()["error"]["message"]
    good(home, "g2")
    assert_serving(client, "g2")


def test_the_page_still_loads_without_an_index(tmp_path: Path) -> None:
    # The page is static: it must load and let its JS show the API's 503 message.
    response = client_for(tmp_path / "index").get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
