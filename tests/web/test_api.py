from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

AppFactory = Callable[..., Flask]



def ids(data: dict[str, Any], key: str = "hits") -> list[str]:
    return [h["id"] for h in data[key]]


def search(client: FlaskClient, query: str) -> dict[str, Any]:
    response = client.get("/api/search" + query)
    assert response.status_code == 200, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


# ------------------------------------------------------------------------------------ /api/search


def test_search_response_shape(client: FlaskClient) -> None:
    data = search(client, "?q=trẻ em")
    assert set(data) == {"query", "total", "page", "per_page", "took_ms", "all_words_matched", "all_words_total",
                         "partial", "did_you_mean", "interpreted_as", "hits", "facets"}
    assert data["query"] == {"q": "trẻ em", "tags": [], "category": None, "author": None, "from": None, "to": None,
                             "sort": "relevance", "verbatim": False}
    assert (data["page"], data["per_page"]) == (1, 10)
    assert {"a1", "a7"} <= set(ids(data))
    hit = data["hits"][0]
    assert set(hit) == {"id", "title", "url", "published", "category", "tags", "author", "source", "score", "highlight"}
    assert set(hit["highlight"]) == {"title", "snippet"}
    assert set(data["facets"]) == {"category", "tags"}
    assert all(set(f) == {"value", "count"} for f in data["facets"]["tags"])


def test_search_is_utf8_not_escaped(client: FlaskClient) -> None:
    response = client.get("/api/search?q=trẻ em")
    assert response.mimetype == "application/json"
    assert "Trẻ em".encode() in response.data
    assert b"\\u" not in response.data


def test_search_escapes_html_in_highlights(client: FlaskClient) -> None:
    data = search(client, "?q=công nghệ")
    hit = next(h for h in data["hits"] if h["id"] == "a2")
    assert hit["title"].startswith("<script>")  # the stored title, as written
    assert "<script>" not in hit["highlight"]["title"]
    assert "&lt;script&gt;" in hit["highlight"]["title"]


def test_search_finds_nfd_text_with_nfc_query(client: FlaskClient) -> None:
    assert "a3" in ids(search(client, "?q=Hà Nội"))


def test_search_without_diacritics(client: FlaskClient) -> None:
    assert "a3" in ids(search(client, "?q=ha noi"))


def test_search_prefers_the_diacritics_typed(client: FlaskClient) -> None:
    cong = ids(search(client, "?q=công"))
    assert cong and cong[0] == "a4"
    cong_dong = ids(search(client, "?q=cộng đồng"))
    assert cong_dong and cong_dong[0] == "a5"


def test_search_filters(client: FlaskClient) -> None:
    assert sorted(ids(search(client, "?tag=Trẻ em"))) == ["a1", "a5", "a7"]
    assert sorted(ids(search(client, "?tag=tre em"))) == ["a1", "a5", "a7"]  # tags fold case and diacritics
    assert sorted(ids(search(client, "?tag=Trẻ em&tag=Giáo dục"))) == ["a1", "a7"]
    assert sorted(ids(search(client, "?category=Kinh doanh"))) == ["a5", "a6"]
    assert sorted(ids(search(client, "?author=Phạm Hoa"))) == ["a5", "a6"]
    assert sorted(ids(search(client, "?from=2024-05-01&to=2024-06-30"))) == ["a1", "a2"]


def test_search_newest_first(client: FlaskClient) -> None:
    data = search(client, "?sort=newest&per_page=6")
    assert ids(data)[:6] == ["a6", "a1", "a2", "a4", "a5", "a3"]


def test_search_pages(client: FlaskClient) -> None:
    first = search(client, "?sort=newest&per_page=2")
    second = search(client, "?sort=newest&per_page=2&page=2")
    assert first["total"] == second["total"] == 7
    assert ids(first) == ["a6", "a1"] and ids(second) == ["a2", "a4"]
    assert (second["page"], second["per_page"]) == (2, 2)


def test_search_facets_count_categories(client: FlaskClient) -> None:
    facets = search(client, "?tag=Trẻ em")["facets"]
    assert {f["value"]: f["count"] for f in facets["category"]} == {"Xã hội": 1, "Kinh doanh": 1, "Giáo dục": 1}
    assert {"value": "Trẻ em", "count": 3} in facets["tags"]


def test_search_ignores_unknown_parameters(client: FlaskClient) -> None:
    plain = search(client, "?q=giá vàng")
    extra = search(client, "?q=giá vàng&utm_source=x&_=123")
    assert ids(plain) == ids(extra) == ["a6"]


@pytest.mark.parametrize(
    "query, names",
    [
        ("?page=0", "page"), ("?page=abc", "page"), ("?per_page=0", "per_page"), ("?per_page=101", "per_page"),
        ("?per_page=1e3", "per_page"), ("?page=11&per_page=100", "page"), ("?from=2024-13-01", "from"),
        ("?from=20240101", "from"), ("?to=yesterday", "to"), ("?from=2024-02-01&to=2024-01-01", "from"),
        ("?sort=oldest", "sort"), ("?q=" + "a" * 501, "q"), ("?page=99999999999999999999", "page"),
    ],
)
def test_search_rejects_bad_parameters(client: FlaskClient, query: str, names: str) -> None:
    response = client.get("/api/search" + query)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and names in error["message"]


def test_search_hostile_queries_never_500(client: FlaskClient) -> None:
    for q in ['"', "((", "title:x", "*", "-", "OR AND NOT", "a~2", "\x00", "😀", "[a TO b]", "%", "\\"]:
        response = client.get("/api/search", query_string={"q": q})
        assert response.status_code in (200, 400), (q, response.get_json())


# ------------------------------------------------------------------------------------ caching


def test_etag_and_revalidation(client: FlaskClient) -> None:
    first = client.get("/api/search?q=trẻ em")
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    assert client.get("/api/search?q=trẻ em").headers["ETag"] == tag
    assert client.get("/api/search?q=trẻ em&page=1").headers["ETag"] != tag
    # A "?" inside a tag's path is not the start of a query string: two answers, two tags.
    assert client.get("/api/tags/a%3Fb").headers["ETag"] != client.get("/api/tags/a?b").headers["ETag"]
    assert client.get("/api/tags/a%3Fb?").headers["ETag"] != client.get("/api/tags/a?b?").headers["ETag"]
    again = client.get("/api/search?q=trẻ em", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/api/search?q=trẻ em", headers={"If-None-Match": '"other"'}).status_code == 200


def test_etag_changes_when_the_index_changes(index_dir: Path, make_app: AppFactory) -> None:
    app = make_app(index_dir, OPERATOR_TOKEN="s3cret")
    client = app.test_client()
    tag = client.get("/api/search?q=trẻ em").headers["ETag"]
    auth = {"Authorization": "Bearer s3cret"}
    assert client.delete("/api/articles/a6", headers=auth).status_code == 200
    response = client.get("/api/search?q=trẻ em", headers={"If-None-Match": tag})
    assert response.status_code == 200 and response.headers["ETag"] != tag


# ------------------------------------------------------------------------------------ other read routes


def test_tags(client: FlaskClient) -> None:
    data = client.get("/api/tags?prefix=tr").get_json()
    assert data["tags"][0] == {"value": "Trẻ em", "count": 3}
    everything = client.get("/api/tags?limit=100").get_json()["tags"]
    assert {"value": "Giá vàng", "count": 1} in everything


def test_tag_articles(client: FlaskClient) -> None:
    data = client.get("/api/tags/Trẻ em").get_json()
    assert data["tag"] == "Trẻ em" and sorted(ids(data)) == ["a1", "a5", "a7"]


def test_article(client: FlaskClient) -> None:
    data = client.get("/api/articles/a1").get_json()
    assert data["id"] == "a1" and data["title"] == "Bảo vệ trẻ em trong mùa hè"
    assert data["tags"] == ["Trẻ em", "Giáo dục"] and data["category"] == "Xã hội"
    assert client.get("/api/articles/nope").status_code == 404


def test_related(client: FlaskClient) -> None:
    data = client.get("/api/articles/a1/related?limit=3").get_json()
    assert data["id"] == "a1"
    related = data["related"]
    assert 0 < len(related) <= 3 and "a1" not in ids(data, "related")
    assert related[0]["id"] == "a7" and "Trẻ em" in related[0]["shared_tags"]
    assert client.get("/api/articles/nope/related").status_code == 404


def test_related_to_text(client: FlaskClient) -> None:
    response = client.post("/api/related", json={"title": "Giá vàng hôm nay", "body": "Giá vàng miếng tăng."})
    assert response.status_code == 200
    assert ids(response.get_json(), "related")[0] == "a6"


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"title": 5}', b'{"title": "", "body": " "}', b""])
def test_related_to_text_rejects_bad_bodies(client: FlaskClient, body: bytes) -> None:
    response = client.post("/api/related", data=body, content_type="application/json")
    assert response.status_code == 400


def test_suggest(client: FlaskClient) -> None:
    data = client.get("/api/suggest?q=trẻ").get_json()
    assert data["q"] == "trẻ"
    assert data["suggestions"] and all(s["kind"] in ("completion", "article", "tag") for s in data["suggestions"])
    articles = [s for s in data["suggestions"] if s["kind"] == "article"]
    assert articles and all(set(s) == {"text", "kind", "id", "url"} for s in articles)
    assert all(set(s) == {"text", "kind"} for s in data["suggestions"] if s["kind"] != "article")
    assert any(s["text"].lower().startswith("trẻ") for s in data["suggestions"])
    assert client.get("/api/suggest?q=").get_json()["suggestions"] == []


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.get_json()
    assert data["status"] == "ok" and data["generation"] == 1 and data["doc_count"] == 7


# ------------------------------------------------------------------------------------ operator routes


ARTICLE = {"id": "n1", "title": "Bão số 3 đổ bộ miền Bắc", "body": "Cơn bão gây mưa lớn diện rộng.",
           "tags": ["Thời tiết"], "published": "2024-09-07"}


def test_operator_add_and_delete(index_dir: Path, make_app: AppFactory) -> None:
    client = make_app(index_dir, OPERATOR_TOKEN="s3cret").test_client()
    auth = {"Authorization": "Bearer s3cret"}
    response = client.post("/api/articles", json=[ARTICLE], headers=auth)
    assert response.status_code == 200 and response.get_json()["indexed"] == 1
    assert ids(search(client, "?q=bão"))[0] == "n1"
    response = client.delete("/api/articles/n1", headers=auth)
    assert response.status_code == 200 and response.get_json()["deleted"] == 1
    assert client.get("/api/articles/n1").status_code == 404
    assert client.delete("/api/articles/n1", headers=auth).status_code == 404


def test_operator_rejects_invalid_articles_all_or_nothing(index_dir: Path, make_app: AppFactory) -> None:
    client = make_app(index_dir, OPERATOR_TOKEN="s3cret").test_client()
    response = client.post("/api/articles", json=[ARTICLE, {"id": "n2"}], headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 400
    assert "article 2" in response.get_json()["error"]["message"]
    assert client.get("/api/articles/n1").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", "s3cret", "Basic s3cret", "Bearer "])
def test_operator_needs_the_token(index_dir: Path, make_app: AppFactory, header: str | None) -> None:
    client = make_app(index_dir, OPERATOR_TOKEN="s3cret").test_client()
    headers = {"Authorization": header} if header else {}
    assert client.post("/api/articles", json=ARTICLE, headers=headers).status_code == 403
    assert client.delete("/api/articles/a1", headers=headers).status_code == 403
    assert client.get("/api/articles/a1").status_code == 200


def test_operator_routes_disabled_without_a_token(client: FlaskClient) -> None:
    response = client.post("/api/articles", json=ARTICLE, headers={"Authorization": "Bearer "})
    assert response.status_code == 403
    assert "SEARCHSVC_OPERATOR_TOKEN" in response.get_json()["error"]["message"]
    assert client.delete("/api/articles/a1").status_code == 403


# ------------------------------------------------------------------------------------ edges


def test_boundary_dates_answer_and_never_500(client: FlaskClient) -> None:
    for query in ("?q=trẻ em&from=0001-01-01", "?q=trẻ em&to=9999-12-31", "?from=0001-01-01&to=9999-12-31",
                  "?q=trẻ em&from=9999-12-31", "?to=0001-01-01&sort=newest"):
        response = client.get("/api/search" + query)
        assert response.status_code == 200, (query, response.get_json())
    assert search(client, "?q=trẻ em&from=0001-01-01&to=9999-12-31")["total"] == 2  # a7 has no date
    assert search(client, "?q=trẻ em&from=9999-12-31")["total"] == 0


@pytest.mark.parametrize("query, name", [("?q=%C3%28", "q"), ("?q=tre&tag=%FF", "tag"), ("?q=x&%E1%BB=1", "\ufffd")])
def test_invalid_utf8_in_a_parameter_is_a_400_naming_it(client: FlaskClient, query: str, name: str) -> None:
    response = client.get("/api/search" + query)
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert f"parameter '{name}" in message and "UTF-8" in message


def test_pages_agree_on_the_total(client: FlaskClient) -> None:
    pages = [search(client, f"?q=trẻ em mùa hè&per_page=1&page={n}") for n in (1, 2, 3)]
    assert len({p["total"] for p in pages}) == 1
    assert [p["all_words_total"] for p in pages] == [1, 1, 1]
    assert [p["all_words_matched"] for p in pages] == [False, False, False]


def test_related_to_an_unrelated_draft_is_empty(client: FlaskClient) -> None:
    response = client.post("/api/related", json={"title": "xin chào", "body": ""})
    assert response.status_code == 200 and response.get_json()["related"] == []


def test_operator_token_that_looks_like_a_number(index_dir: Path, make_app: AppFactory,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCHSVC_OPERATOR_TOKEN", "1e6")
    client = make_app(index_dir).test_client()
    response = client.post("/api/articles", json=ARTICLE, headers={"Authorization": "Bearer 1e6"})
    assert response.status_code == 200, response.get_json()


def test_operator_batch_with_a_repeated_id_keeps_the_last(index_dir: Path, make_app: AppFactory) -> None:
    client = make_app(index_dir, OPERATOR_TOKEN="s3cret").test_client()
    corrected = {**ARTICLE, "title": "Bão số 3 suy yếu"}
    response = client.post("/api/articles", json=[ARTICLE, corrected], headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    data = response.get_json()
    assert data["indexed"] == 1 and data["superseded"] == ["article 1: id 'n1' appears again as article 2"]
    assert client.get("/api/articles/n1").get_json()["title"] == "Bão số 3 suy yếu"


def test_the_reading_searched_and_searching_as_typed(client: Any) -> None:
    restored = client.get("/api/search", query_string={"q": "tre em"}).get_json()
    assert restored["interpreted_as"] == "trẻ em" and restored["query"]["verbatim"] is False
    assert restored["hits"][0]["id"] == "a1"
    typed = client.get("/api/search", query_string={"q": "tre em", "verbatim": "1"}).get_json()
    assert typed["interpreted_as"] is None and typed["query"]["verbatim"] is True
    assert client.get("/api/search", query_string={"q": "trẻ em"}).get_json()["interpreted_as"] is None


def test_a_bad_verbatim_flag_is_a_400_naming_it(client: Any) -> None:
    r = client.get("/api/search", query_string={"q": "tre em", "verbatim": "maybe"})
    assert r.status_code == 400 and "verbatim" in r.get_json()["error"]["message"]
