"""Whatever a client sends to any endpoint, the answer is results or the JSON error shape, never a 500.

Hypothesis drives every parameter of every route with arbitrary text, numbers-as-text and raw
query-string bytes; a fixed corpus of nasty inputs (unbalanced syntax, lone operators, wildcards,
10,000-character queries, control characters and NUL, invalid percent-encoding, emoji, right-to-left
text, HTML/JavaScript) runs through each text parameter as well.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from searchsvc.config import DEFAULTS
from searchsvc.web.app import create_app

NASTY: tuple[str, ...] = (
    "", " ", '"', '""', '"""', '"giá vàng', 'giá vàng"', '"giá" "', "(", ")", "((((giá", "giá))", "[", "]", "{", "}",
    "[giá TO vàng]", "OR", "AND", "NOT", "OR OR OR", "giá OR", "OR giá", "-", "--", "- -", "-giá", "-\"\"", "+",
    "+giá", "!", "&&", "||", ":", "::", "tag:", 'tag:""', "tag:-", "title:", "author:", "category:", "-tag:x",
    "x:y:z", "http://example.com/a?b=c", "*", "**", "*:*", "a*", "t*", "tr*", "g* v* t* c* n* h* m*", "?", "??",
    "tr?", "giá~", "giá~2", "giá^100", "^", "~", "\\", "\\\\", "\\\"", "/", "/.*/", "/a+/", "%", "%25", "%00",
    "%ZZ", "%e2%82", "A" * 10_000, "trẻ em " * 1_700, "x" * 501, " ".join(f"từ{i}" for i in range(70)),
    "\x00", "giá\x00vàng", "\x01\x02\x03\x1f\x7f", "\x1b[31mred", "\r\n", "\t\t", "\u0085", "\u2028\u2029",
    "\u200b", "giá\u200bvàng", "\u200c\u200d", "\ufeff", "\ufffd", "\uffff", "😀", "👨‍👩‍👧‍👦 giá vàng", "🇻🇳",
    "مرحبا بالعالم", "שלום עולם", "\u202egiá vàng", "\u202a\u202b\u202c", "ﷺ", "Ǆ ǅ ǆ", "İstanbul", "ß ẞ",
    "ﬁ ﬂ", "a" + "\u0301" * 200, unicodedata.normalize("NFD", "giá vàng tăng mạnh"), "ＧＩＡ　ＶＡＮＧ", "𝕘𝕚𝕒",
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
    "<svg/onload=alert(1)>", "{{7*7}}", "${7*7}", "'; DROP TABLE articles;--", "' OR '1'='1",
    "../../etc/passwd", "NaN", "-1", "0", "99999999999999999999", "1e3", "0x10", "١٢", "²",
)
PATHS = ("a1", "", ".", "..", "%2F", "a1%00", "%ZZ", "x" * 600, "<script>", "😀")

ERROR_CODES = {400, 403, 404, 405, 413}
SEARCH_KEYS = {"query", "total", "page", "per_page", "took_ms", "all_words_matched", "all_words_total", "partial",
               "did_you_mean", "interpreted_as", "hits", "facets"}

text = st.one_of(st.text(st.characters(blacklist_categories=["Cs"]), max_size=60), st.sampled_from(NASTY))
number = st.one_of(st.integers(-(10**13), 10**13).map(str), text)
date_text = st.one_of(st.dates().map(lambda d: d.isoformat()), text)


@pytest.fixture(scope="module")
def app(_built_index: Path) -> Flask:
    # Read-only use of the shared index: no operator token, so nothing here can change it.
    return create_app({"INDEX_DIR": str(_built_index), "TESTING": True, "RELOAD_INTERVAL": 0.0})


@pytest.fixture(scope="module")
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c


def check(response: TestResponse, ok_keys: set[str] | None = None) -> Any:
    """Never a 500; errors in the one JSON shape; successes as JSON with the route's keys."""
    status = response.status_code
    assert status == 200 or status in ERROR_CODES, (status, response.data[:300])
    if response.mimetype == "text/html":
        assert status == 200
        return None
    assert response.mimetype == "application/json", response.mimetype
    body = json.loads(response.data)
    if status != 200:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
        return None
    if ok_keys is not None:
        assert set(body) == ok_keys
    return body


def raw_get(client: FlaskClient, path: str, query_string: bytes) -> TestResponse:
    # As a WSGI server hands it over: the undecoded bytes as a latin-1 str.
    return client.get(path, environ_overrides={"QUERY_STRING": query_string.decode("latin-1")})


def get(client: FlaskClient, path: str, params: list[tuple[str, str]]) -> TestResponse:
    return client.get(path + "?" + urlencode(params, quote_via=quote) if params else path)


_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(q=text, tags=st.lists(text, max_size=3), category=text, author=text, date_from=date_text, date_to=date_text,
       sort=st.one_of(st.sampled_from(["relevance", "newest"]), text), page=number, per_page=number,
       keep=st.sets(st.sampled_from(["q", "category", "author", "from", "to", "sort", "page", "per_page"])))
def test_search_parameters(client: FlaskClient, q: str, tags: list[str], category: str, author: str,
                           date_from: str, date_to: str, sort: str, page: str, per_page: str, keep: set[str]) -> None:
    values = {"q": q, "category": category, "author": author, "from": date_from, "to": date_to, "sort": sort,
              "page": page, "per_page": per_page}
    params = [(k, v) for k, v in values.items() if k in keep] + [("tag", t) for t in tags]
    body = check(get(client, "/api/search", params), SEARCH_KEYS)
    if body is not None:
        assert isinstance(body["partial"], bool) and body["total"] >= len(body["hits"])


@_SETTINGS
@given(prefix=text, limit=number, tag=text)
def test_tag_routes(client: FlaskClient, prefix: str, limit: str, tag: str) -> None:
    check(get(client, "/api/tags", [("prefix", prefix), ("limit", limit)]), {"prefix", "tags"})
    check(get(client, "/api/tags/" + quote(tag, safe=""), [("limit", limit)]))


@_SETTINGS
@given(article_id=st.one_of(text, st.sampled_from(PATHS)), limit=number)
def test_article_routes(client: FlaskClient, article_id: str, limit: str) -> None:
    path_id = quote(article_id, safe="") if article_id not in PATHS else article_id
    check(client.get("/api/articles/" + path_id))
    check(get(client, f"/api/articles/{path_id}/related", [("limit", limit)]))


@_SETTINGS
@given(q=text, limit=number)
def test_suggest(client: FlaskClient, q: str, limit: str) -> None:
    check(get(client, "/api/suggest", [("q", q), ("limit", limit)]), {"q", "suggestions"})


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8)


@_SETTINGS
@given(title=st.one_of(text, json_value), body=st.one_of(text, json_value), limit=number,
       raw=st.one_of(st.none(), st.binary(max_size=200)))
def test_related_to_text(client: FlaskClient, title: Any, body: Any, limit: str, raw: bytes | None) -> None:
    data = raw if raw is not None else json.dumps({"title": title, "body": body})
    check(client.post("/api/related?" + urlencode([("limit", limit)]), data=data, content_type="application/json"),
          {"related"})


@_SETTINGS
@given(query_string=st.binary(max_size=300), route=st.sampled_from(
    ["/api/search", "/api/tags", "/api/suggest", "/api/tags/a", "/api/articles/a1", "/api/articles/a1/related",
     "/healthz", "/api/openapi.json", "/", "/editor"]))
def test_raw_query_string_bytes(client: FlaskClient, query_string: bytes, route: str) -> None:
    # Invalid percent-encoding, invalid UTF-8, stray '&' and '=': whatever arrives in the URL.
    check(raw_get(client, route, query_string))


@_SETTINGS
@given(method=st.sampled_from(["POST", "PUT", "DELETE", "PATCH"]),
       route=st.sampled_from(["/api/search", "/api/articles", "/api/articles/a1", "/healthz", "/api/tags"]),
       data=st.binary(max_size=100))
def test_other_methods_and_operator_routes_without_a_token(client: FlaskClient, method: str, route: str,
                                                           data: bytes) -> None:
    response = client.open(route, method=method, data=data)
    check(response)
    assert response.status_code != 200  # nothing changes the index without an operator token


@pytest.mark.parametrize("nasty", NASTY)
def test_nasty_corpus_in_every_text_parameter(client: FlaskClient, nasty: str) -> None:
    for params in ([("q", nasty)], [("tag", nasty)], [("category", nasty)], [("author", nasty)],
                   [("q", nasty), ("sort", "newest")], [("from", nasty)], [("page", nasty)], [("per_page", nasty)]):
        check(get(client, "/api/search", params), SEARCH_KEYS)
    check(get(client, "/api/tags", [("prefix", nasty)]), {"prefix", "tags"})
    check(get(client, "/api/suggest", [("q", nasty)]), {"q", "suggestions"})
    check(client.get("/api/tags/" + quote(nasty, safe="")))
    check(client.get("/api/articles/" + quote(nasty, safe="")))
    check(client.post("/api/related", json={"title": nasty, "body": nasty}))


@pytest.mark.parametrize("raw", [b"q=%", b"q=%Z", b"q=%ZZ", b"q=%e2%82", b"q=%ff%fe", b"q=\xff\xfe", b"q=%00",
                                 b"q=a&q=b", b"&&&", b"=", b"q", b"per_page=%ZZ", b"tag=%C0%80", b"q=" + b"%41" * 3000])
def test_invalid_percent_encoding(client: FlaskClient, raw: bytes) -> None:
    check(raw_get(client, "/api/search", raw), SEARCH_KEYS)


def test_long_queries_are_a_clear_400(client: FlaskClient) -> None:
    response = client.get("/api/search", query_string={"q": "giá " * 2500})
    assert response.status_code == 400
    assert f"limit is {DEFAULTS['MAX_QUERY_CHARS']}" in response.get_json()["error"]["message"]
    many = " ".join(f"từ{i}" for i in range(int(DEFAULTS["MAX_QUERY_TERMS"]) + 1))
    response = client.get("/api/search", query_string={"q": many})
    assert response.status_code == 400 and "terms" in response.get_json()["error"]["message"]


def test_wildcards_are_literal_text_not_expansions(client: FlaskClient) -> None:
    # The query syntax has no wildcards: `*` and `t*` cannot expand to every term in the index.
    for q in ("*", "t*", "a* b* c* d* e* g* h* k* l* m*", "*:*", "?", "tr?"):
        body = check(client.get("/api/search", query_string={"q": q}), SEARCH_KEYS)
        assert body["partial"] is False and body["total"] <= 7


def test_a_query_over_the_time_limit_answers_200_with_partial_results_flagged(_built_index: Path) -> None:
    # QUERY_TIME_LIMIT 0: every search is already over its limit, as a very expensive one would be.
    app = create_app({"INDEX_DIR": str(_built_index), "TESTING": True, "QUERY_TIME_LIMIT": 0.0})
    client = app.test_client()
    for sort in ("relevance", "newest"):
        body = check(client.get("/api/search", query_string={"q": '"giá vàng"', "sort": sort}), SEARCH_KEYS)
        assert body["partial"] is True
        assert [h["id"] for h in body["hits"]] == ["a6"]  # what was found in time is still returned
    for q in ("trẻ em", "a* b* c*", '"trẻ em" -"mùa hè" OR giá'):
        check(client.get("/api/search", query_string={"q": q}), SEARCH_KEYS)


# Dates at the ends of what Python parses: the day before 0001-01-01 in UTC+7 and the day after 9999-12-31 do
# not exist, and once made the date filter raise OverflowError (a 500). Listed here, not left to hypothesis.
BOUNDARY_DATES = [("from", "0001-01-01"), ("to", "9999-12-31"), ("from", "9999-12-31"), ("to", "0001-01-01"),
                  ("from", "0001-01-02"), ("to", "9999-12-30")]


@pytest.mark.parametrize("name, value", BOUNDARY_DATES)
def test_boundary_dates_answer(client: FlaskClient, name: str, value: str) -> None:
    for q in ("", "trẻ em"):
        body = check(get(client, "/api/search", [("q", q), (name, value)]), SEARCH_KEYS)
        assert isinstance(body["total"], int)
    both = check(get(client, "/api/search", [("from", "0001-01-01"), ("to", "9999-12-31")]), SEARCH_KEYS)
    assert both["total"] == 6  # every dated article
