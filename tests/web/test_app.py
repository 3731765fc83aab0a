from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from searchsvc.errors import SettingsError
from searchsvc.web.app import CSP, create_app

AppFactory = Callable[..., Flask]


def test_create_app_touches_no_index(tmp_path: Path) -> None:
    app = create_app({"INDEX_DIR": str(tmp_path / "absent"), "TESTING": True})
    assert not (tmp_path / "absent").exists()
    assert app.test_client().get("/api/openapi.json").status_code == 200


def test_config_layers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEARCHSVC_MAX_PER_PAGE", "5")
    monkeypatch.setenv("SEARCHSVC_CORS_ORIGINS", '"https://a.example"')
    app = create_app({"INDEX_DIR": str(tmp_path), "CORS_ORIGINS": "https://b.example"})
    assert app.config["MAX_PER_PAGE"] == 5  # environment over defaults
    assert app.config["CORS_ORIGINS"] == "https://b.example"  # test_config over environment
    assert app.config["QUERY_TIME_LIMIT"] == 2.0  # defaults


@pytest.mark.parametrize("name, value", [("QUERY_TIME_LIMIT", "fast"), ("MAX_PER_PAGE", "0"),
                                         ("RESULT_CACHE", "1e3"), ("RECENCY_WEIGHT", "nan")])
def test_a_bad_setting_stops_the_start_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str,
                                                 value: str) -> None:
    monkeypatch.setenv(f"SEARCHSVC_{name}", value)
    with pytest.raises(SettingsError) as caught:
        create_app({"INDEX_DIR": str(tmp_path)})
    assert f"SEARCHSVC_{name}={value!r}" in caught.value.message and "\n" not in caught.value.message


def test_settings_are_typed_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEARCHSVC_OPERATOR_TOKEN", "1e6")
    monkeypatch.setenv("SEARCHSVC_QUERY_TIME_LIMIT", "3")
    app = create_app({"INDEX_DIR": str(tmp_path)})
    assert app.config["OPERATOR_TOKEN"] == "1e6" and app.config["QUERY_TIME_LIMIT"] == 3.0
    assert isinstance(app.config["QUERY_TIME_LIMIT"], float)


def test_environment_limits_apply(monkeypatch: pytest.MonkeyPatch, index_dir: Path) -> None:
    monkeypatch.setenv("SEARCHSVC_MAX_PER_PAGE", "5")
    client = create_app({"INDEX_DIR": str(index_dir)}).test_client()
    assert client.get("/api/search?per_page=6").status_code == 400
    assert client.get("/api/search?per_page=5").status_code == 200


def test_security_headers_on_json(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Content-Security-Policy" not in response.headers


def test_security_headers_on_html(app: Flask) -> None:
    app.add_url_rule("/test-html", "test_html", lambda: "<p>x</p>")
    response = app.test_client().get("/test-html")
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_web_page_is_registered_when_present(client: FlaskClient) -> None:
    import importlib.util

    if importlib.util.find_spec("searchsvc.web.pages") is None:
        pytest.skip("no web page in this build")
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CSP


def test_cors_only_for_configured_origins(index_dir: Path, make_app: AppFactory) -> None:
    client = make_app(index_dir, CORS_ORIGINS="https://a.example, https://b.example").test_client()
    allowed = client.get("/healthz", headers={"Origin": "https://b.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://b.example"
    assert "Origin" in allowed.headers["Vary"]
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]


def test_cors_preflight(index_dir: Path, make_app: AppFactory) -> None:
    client = make_app(index_dir, CORS_ORIGINS="https://a.example").test_client()
    headers = {"Origin": "https://a.example", "Access-Control-Request-Method": "POST"}
    response = client.options("/api/related", headers=headers)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    refused = client.options("/api/related", headers={**headers, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_cors_wildcard(index_dir: Path, make_app: AppFactory) -> None:
    client = make_app(index_dir, CORS_ORIGINS="*").test_client()
    response = client.get("/healthz", headers={"Origin": "https://any.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://any.example"


def test_no_cors_headers_by_default(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"Origin": "https://a.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_recovers_when_an_index_appears(tmp_path: Path, _built_index: Path, make_app: AppFactory) -> None:
    home = tmp_path / "index"
    client = make_app(home).test_client()
    assert client.get("/healthz").status_code == 503
    assert client.get("/api/search?q=x").status_code == 503
    shutil.copytree(_built_index, home)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["doc_count"] == 7


def test_sees_a_new_generation(index_dir: Path, make_app: AppFactory) -> None:
    from searchsvc.articles import Article
    from searchsvc.store.writer import build_index

    client = make_app(index_dir).test_client()
    assert client.get("/healthz").get_json()["generation"] == 1
    build_index([Article(id="z", title="Một bài duy nhất", body="nội dung")], index_dir)
    data = client.get("/healthz").get_json()
    assert (data["generation"], data["doc_count"]) == (2, 1)
