"""Security defaults: escaping of article and user text, headers and CSP, the operator token,
loopback binding and request size limits."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from searchsvc.articles import Article
from searchsvc.config import DEFAULTS
from searchsvc.store import writer
from searchsvc.web import api
from searchsvc.web.app import CSP

PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "<svg/onload=alert(3)>",
    "'><iframe src=javascript:alert(4)>",
    "</mark><script>alert(5)</script><mark>",
    "&lt;script&gt;alert(6)&lt;/script&gt;",  # already escaped: must come back escaped twice, not run
)
STATIC = Path(__file__).resolve().parents[2] / "searchsvc" / "web" / "static"


@pytest.fixture
def xss_app(tmp_path: Path, make_app: Any) -> Flask:
    articles = [
        Article(id=f"x{n}", title=f"Tiêu đề độc hại {p} giá vàng", lead=f"Phần mở đầu {p} giá vàng",
                body=f"Thân bài {p} giá vàng tăng mạnh {p}", tags=(f"thẻ {p}", "Kinh tế"), category=f"mục {p}",
                author=f"tác giả {p}")
        for n, p in enumerate(PAYLOADS)
    ]
    home = tmp_path / "index"
    writer.build_index(articles, home)
    return make_app(home)


def markup(fragment: str) -> list[str]:
    """Every tag in a highlight fragment."""
    return re.findall(r"<[^>]*>", fragment)


def test_highlights_escape_payloads_in_titles_bodies_and_queries(xss_app: Flask) -> None:
    client = xss_app.test_client()
    queries = ["giá vàng", "script alert", "img onerror", *PAYLOADS, "giá <script>alert(7)</script> vàng"]
    seen = 0
    for q in queries:
        body = client.get("/api/search", query_string={"q": q}).get_json()
        assert "error" not in body, body
        for hit in body["hits"]:
            for fragment in (hit["highlight"]["title"], hit["highlight"]["snippet"]):
                assert set(markup(fragment)) <= {"<mark>", "</mark>"}, fragment
                assert '"' not in fragment and "'" not in fragment.replace("&#x27;", "")
                seen += 1
            # Escaping only: unescaped and unmarked, the title is the stored one, character for character.
            plain = html.unescape(hit["highlight"]["title"].replace("<mark>", "").replace("</mark>", ""))
            assert plain == hit["title"]
    assert seen >= 2 * len(PAYLOADS)


def test_payloads_in_tags_categories_and_authors_stay_data_in_json(xss_app: Flask) -> None:
    client = xss_app.test_client()
    response = client.get("/api/search", query_string={"q": "giá vàng"})
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"  # never sniffed into HTML
    facets = response.get_json()["facets"]
    assert {f"thẻ {p}" for p in PAYLOADS} <= {v["value"] for v in facets["tags"]}
    for p in PAYLOADS:
        tag = client.get("/api/tags/" + "thẻ " + p.replace("/", "%2F"))
        assert tag.status_code == 200 and tag.mimetype == "application/json"


def test_the_pages_do_not_reflect_request_text(client: FlaskClient) -> None:
    for path in ("/", "/editor"):
        for p in PAYLOADS:
            response = client.get(path, query_string={"q": p, "id": p, "tag": p})
            assert response.status_code == 200
            assert p not in response.get_data(as_text=True)
            assert "alert(" not in response.get_data(as_text=True)


def test_the_page_scripts_insert_only_the_servers_escaped_highlights_as_html() -> None:
    # Everything else from the API goes in with textContent; innerHTML is only ever fed
    # hit.highlight.title / hit.highlight.snippet, which the server escaped (tests above).
    sinks = []
    for js in sorted(STATIC.glob("*.js")):
        for n, text in enumerate(js.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function", text):
                sinks.append((js.name, n, text.strip()))
    assert sinks, "the page no longer inserts highlights: update this test"
    for name, n, text in sinks:
        assert re.search(r"\.innerHTML = (html|hit\.highlight\.(title|snippet));", text), (name, n, text)
        assert "hit.highlight" in text or name == "common.js", (name, n, text)


# ------------------------------------------------------------------------------------ headers


def test_html_pages_carry_a_strict_csp_and_have_no_inline_script_or_style(client: FlaskClient) -> None:
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert "object-src 'none'" in CSP and "frame-ancestors 'none'" in CSP
    for path in ("/", "/editor"):
        response = client.get(path)
        assert response.mimetype == "text/html"
        assert response.headers["Content-Security-Policy"] == CSP
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        page = response.get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", page)
        assert scripts and all(re.search(r'src="/static/web/[\w.-]+\.js"', s) for s in scripts), scripts
        assert not re.search(r"<script\b[^>]*>[^<]+</script>", page)  # no inline code
        assert not re.search(r"\son[a-z]+\s*=", page)  # no inline event handlers
        assert not re.search(r"<style\b|\sstyle\s*=", page)  # no inline style (style-src 'self')


def test_json_and_errors_are_not_sniffable_and_not_cors_open_by_default(client: FlaskClient) -> None:
    for path in ("/api/search?q=gia", "/api/search?page=0", "/nope", "/healthz"):
        response = client.get(path, headers={"Origin": "https://evil.example"})
        assert response.mimetype == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Access-Control-Allow-Origin" not in response.headers


# ------------------------------------------------------------------------------------ operator token


def test_index_changing_endpoints_are_off_without_a_token(client: FlaskClient) -> None:
    add = client.post("/api/articles", json={"id": "z", "title": "T", "body": "B"},
                      headers={"Authorization": "Bearer "})
    delete = client.delete("/api/articles/a1")
    for response in (add, delete):
        assert response.status_code == 403
        assert "SEARCHSVC_OPERATOR_TOKEN" in response.get_json()["error"]["message"]
    assert client.get("/api/articles/a1").status_code == 200


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer wrong", "Basic s3cret", "Bearer s3cret-not",
                                    "Bearer S3CRET", "Bearer s3cre", "Bearer tôi", "Bearer \x00"])
def test_a_missing_or_wrong_token_is_refused(make_app: Any, index_dir: Path, header: str | None) -> None:
    client = make_app(index_dir, OPERATOR_TOKEN="s3cret").test_client()
    headers = {} if header is None else {"Authorization": header}
    response = client.delete("/api/articles/a1", headers=headers)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/articles/a1").status_code == 200


def test_the_right_token_is_checked_in_constant_time_and_works(make_app: Any, index_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    real = api.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api.hmac, "compare_digest", spy)
    client = make_app(index_dir, OPERATOR_TOKEN="s3cret").test_client()
    auth = {"Authorization": "Bearer s3cret"}
    response = client.post("/api/articles", json={"id": "z1", "title": "Tin mới", "body": "Nội dung"}, headers=auth)
    assert response.status_code == 200 and response.get_json()["indexed"] == 1
    assert client.delete("/api/articles/a1", headers=auth).status_code == 200
    assert calls and all(b == b"s3cret" for _, b in calls)
    assert client.get("/api/articles/a1").status_code == 404


# ------------------------------------------------------------------------------------ binding, sizes


def test_serve_binds_to_loopback_unless_told_otherwise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       index_dir: Path) -> None:
    from searchsvc import cli

    assert DEFAULTS["HOST"] == "127.0.0.1"
    monkeypatch.delenv("SEARCHSVC_HOST", raising=False)
    ran: list[dict[str, Any]] = []
    monkeypatch.setattr(cli._Gunicorn, "run", lambda self: ran.append(dict(self.options)))
    assert CliRunner().invoke(cli.main, ["--index-dir", str(index_dir), "serve", "--port", "8123"]).exit_code == 0
    assert CliRunner().invoke(cli.main, ["--index-dir", str(index_dir), "serve", "--host", "0.0.0.0"]).exit_code == 0
    monkeypatch.setenv("SEARCHSVC_HOST", "::1")
    assert CliRunner().invoke(cli.main, ["--index-dir", str(index_dir), "serve", "--port", "1"]).exit_code == 0
    assert [r["bind"] for r in ran] == ["127.0.0.1:8123", "0.0.0.0:8000", "::1:1"]


def test_request_bodies_over_the_limit_are_413_json(make_app: Any, index_dir: Path) -> None:
    client = make_app(index_dir, OPERATOR_TOKEN="s3cret", MAX_CONTENT_LENGTH=10_000).test_client()
    big = {"title": "giá vàng", "body": "giá vàng " * 5_000}
    for path, headers in (("/api/related", {}), ("/api/articles", {"Authorization": "Bearer s3cret"})):
        response = client.post(path, json=big, headers=headers)
        assert response.status_code == 413, (path, response.data[:200])
        assert response.get_json()["error"]["code"] == "request_entity_too_large"
    assert DEFAULTS["MAX_CONTENT_LENGTH"] == 1_000_000
