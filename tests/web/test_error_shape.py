"""The error contract: every source of an error answers exactly {"error": {"code": str, "message": str}}."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

AppFactory = Callable[..., Flask]


def assert_error_shape(response: TestResponse, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    body: Any = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code


BAD_PARAMETERS = [
    ("get", "/api/search?page=0"),
    ("get", "/api/search?per_page=x"),
    ("get", "/api/search?from=2024-02-30"),
    ("get", "/api/search?sort=random"),
    ("get", "/api/search?q=" + "x" * 600),
    ("get", "/api/tags?limit=0"),
    ("get", "/api/tags?prefix=" + "x" * 600),
    ("get", "/api/tags/Trẻ em?limit=abc"),
    ("get", "/api/articles/a1/related?limit=-1"),
    ("get", "/api/suggest?q=" + "x" * 600),
    ("get", "/api/suggest?q=tr&limit=1000"),
    ("post", "/api/related?limit=0"),
]


@pytest.mark.parametrize("method, url", BAD_PARAMETERS)
def test_bad_parameters(client: FlaskClient, method: str, url: str) -> None:
    kwargs = {"json": {"title": "Giá vàng", "body": "tăng"}} if method == "post" else {}
    assert_error_shape(getattr(client, method)(url, **kwargs), 400, "bad_request")


def test_bad_json_body(client: FlaskClient) -> None:
    assert_error_shape(client.post("/api/related", data=b"{", content_type="application/json"), 400, "bad_request")


def test_unknown_route(client: FlaskClient) -> None:
    assert_error_shape(client.get("/api/nothing-here"), 404)
    assert_error_shape(client.get("/nothing-here"), 404)


def test_unknown_article(client: FlaskClient) -> None:
    assert_error_shape(client.get("/api/articles/missing"), 404, "not_found")
    assert_error_shape(client.get("/api/articles/missing/related"), 404, "not_found")


def test_method_not_allowed(client: FlaskClient) -> None:
    response = client.post("/api/search")
    assert_error_shape(response, 405)
    assert "GET" in response.headers["Allow"]
    assert_error_shape(client.get("/api/related"), 405)


def test_body_too_large(index_dir: Path, make_app: AppFactory) -> None:
    client = make_app(index_dir, MAX_CONTENT_LENGTH=1000, OPERATOR_TOKEN="t").test_client()
    big = {"title": "x", "body": "y" * 5000}
    assert_error_shape(client.post("/api/related", json=big), 413)
    assert_error_shape(client.post("/api/articles", json=big, headers={"Authorization": "Bearer t"}), 413)


def test_operator_forbidden(client: FlaskClient, index_dir: Path, make_app: AppFactory) -> None:
    assert_error_shape(client.post("/api/articles", json={"id": "x"}), 403, "forbidden")
    assert_error_shape(client.delete("/api/articles/a1"), 403, "forbidden")
    with_token = make_app(index_dir, OPERATOR_TOKEN="t").test_client()
    assert_error_shape(with_token.delete("/api/articles/a1", headers={"Authorization": "Bearer x"}), 403, "forbidden")


@pytest.mark.parametrize("url", ["/api/search?q=x", "/healthz", "/api/tags", "/api/articles/a1", "/api/suggest?q=x"])
def test_missing_index(tmp_path: Path, make_app: AppFactory, url: str) -> None:
    client = make_app(tmp_path / "no-index").test_client()
    assert_error_shape(client.get(url), 503, "index_unavailable")


def test_unexpected_exception(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from searchsvc.search import engine

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(engine.Engine, "search", boom)
    response = client.get("/api/search?q=x")
    assert_error_shape(response, 500, "internal_error")
    assert b"secret internal detail" not in response.data
