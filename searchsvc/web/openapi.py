"""The OpenAPI 3.1 description of the JSON API (served at /api/openapi.json).

Kept as data next to the API rather than generated from it, so the document says what clients may
rely on; ``tests/web/test_openapi.py`` fails when a route exists that this document does not describe.
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}


def _q(
    name: str, description: str, schema: dict[str, Any], required: bool = False, where: str = "query"
) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description, "schema": schema}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        304: "Not modified: the If-None-Match ETag still matches.",
        400: "A parameter or the body is invalid.",
        403: "Operator endpoint disabled, or the token is missing or wrong.",
        404: "No such article (or route).",
        413: "The request body is larger than MAX_CONTENT_LENGTH.",
        503: "No usable index, or the index is busy.",
    }
    out: dict[str, Any] = {}
    for status in statuses:
        out[str(status)] = {"description": text[status]} if status == 304 else _json(ERROR, text[status])
    return out


_ID = _q("article_id", "Article id.", {"type": "string"}, required=True, where="path")
_LIMIT = {"type": "integer", "minimum": 1, "maximum": 100}
_HIT = {"$ref": "#/components/schemas/Hit"}
_RELATED = {"$ref": "#/components/schemas/RelatedHit"}
_FACETS = {"type": "array", "items": {"$ref": "#/components/schemas/FacetValue"}}
_ARTICLE = {"$ref": "#/components/schemas/Article"}
_BEARER: list[dict[str, list[str]]] = [{"operatorToken": []}]


def _get(summary: str, params: list[dict[str, Any]], ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params,
                    "responses": {"200": _json(ok, "OK"), **_errors(304, 400, 503, *errors)}}}


def _paths() -> dict[str, Any]:
    search_params = [
        _q("q", "Query text (words, \"phrases\", -exclusions); at most MAX_QUERY_CHARS characters.",
           {"type": "string"}),
        _q("tag", "Only articles with this tag (repeatable: all must match).",
           {"type": "array", "items": {"type": "string"}}),
        _q("category", "Only articles of this category.", {"type": "string"}),
        _q("author", "Only articles by this author.", {"type": "string"}),
        _q("from", "Published on or after this day (YYYY-MM-DD).", {"type": "string", "format": "date"}),
        _q("to", "Published on or before this day (YYYY-MM-DD).", {"type": "string", "format": "date"}),
        _q("sort", "Order of hits.", {"type": "string", "enum": ["relevance", "newest"], "default": "relevance"}),
        _q("page", "1-based page; page × per_page ≤ MAX_RESULT_WINDOW.",
           {"type": "integer", "minimum": 1, "default": 1}),
        _q("per_page", "Hits per page (≤ MAX_PER_PAGE).", {"type": "integer", "minimum": 1, "default": 10}),
        _q("verbatim", "1: search exactly as typed (no accents restored, no Telex decoded, no joined words split).",
           {"type": "integer", "enum": [0, 1], "default": 0}),
    ]
    search_result = {
        "type": "object",
        "properties": {
            "query": {"type": "object", "description": "The parameters as applied."},
            "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"},
            "took_ms": {"type": "number"}, "all_words_matched": {"type": "boolean"},
            "all_words_total": {"type": ["integer", "null"], "description": "Results holding every word of the "
                                "query; they come first. Null for a question, ranked over all its words."},
            "partial": {"type": "boolean", "description": "True when QUERY_TIME_LIMIT cut the search short."},
            "did_you_mean": {"type": ["string", "null"], "description": "A respelling of the query, offered when "
                             "few results match or only some of the words do; in the reader's case."},
            "interpreted_as": {"type": ["string", "null"], "description": "The reading searched when accents were "
                               "restored, Telex decoded or joined words split (tre em → trẻ em); null with verbatim=1."
                               },
            "hits": {"type": "array", "items": _HIT},
            "facets": {"type": "object", "properties": {"category": _FACETS, "tags": _FACETS}},
        },
    }
    related_list = {"type": "array", "items": _RELATED}
    return {
        "/api/search": _get("Search articles.", search_params, search_result),
        "/api/tags": _get(
            "Tags by article count, optionally by prefix.",
            [_q("prefix", "Tag prefix (case and diacritics insensitive).", {"type": "string"}),
             _q("limit", "Most tags returned.", {**_LIMIT, "default": 20})],
            {"type": "object", "properties": {"prefix": {"type": "string"}, "tags": _FACETS}},
        ),
        "/api/tags/{tag}": _get(
            "Newest articles with a tag.",
            [_q("tag", "The tag.", {"type": "string"}, required=True, where="path"),
             _q("limit", "Most articles returned.", {**_LIMIT, "default": 20})],
            {"type": "object", "properties": {"tag": {"type": "string"}, "hits": {"type": "array", "items": _HIT}}},
        ),
        "/api/articles/{article_id}": {
            **_get("One article with all stored fields.", [_ID], _ARTICLE, 404),
            "delete": {
                "summary": "Delete an article (operator; needs OPERATOR_TOKEN).", "security": _BEARER,
                "parameters": [_ID],
                "responses": {"200": _json({"type": "object", "properties": {
                    "deleted": {"type": "integer"}, "generation": {"type": "integer"}}}, "Deleted"),
                    **_errors(403, 404, 503)},
            },
        },
        "/api/articles/{article_id}/related": _get(
            "Articles related to one article.",
            [_ID, _q("limit", "Most related articles.", {**_LIMIT, "default": 10})],
            {"type": "object", "properties": {"id": {"type": "string"}, "related": related_list}}, 404,
        ),
        "/api/articles": {
            "post": {
                "summary": "Add or replace articles by id (operator; needs OPERATOR_TOKEN). All or nothing; "
                           "within a batch the last copy of an id wins.",
                "security": _BEARER,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "oneOf": [_ARTICLE, {"type": "array", "items": _ARTICLE}]}}}},
                "responses": {"200": _json({"type": "object", "properties": {
                    "indexed": {"type": "integer"}, "generation": {"type": "integer"},
                    "superseded": {"type": "array", "items": {"type": "string"},
                                   "description": "Earlier copies of a repeated id, replaced by the later one."}}},
                    "Indexed"),
                    **_errors(400, 403, 413, 503)},
            }
        },
        "/api/related": {
            "post": {
                "summary": "Articles related to a text that is not in the index.",
                "parameters": [_q("limit", "Most related articles.", {**_LIMIT, "default": 10})],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"title": {"type": "string"}, "body": {"type": "string"}}}}}},
                "responses": {"200": _json({"type": "object", "properties": {"related": related_list}}, "OK"),
                              **_errors(400, 413, 503)},
            }
        },
        "/api/suggest": _get(
            "Completions for a partly typed query (accents restored, in the index's own case), then tags, then "
            "articles.",
            [_q("q", "What has been typed so far.", {"type": "string"}),
             _q("limit", "Most suggestions.", {**_LIMIT, "default": 8})],
            {"type": "object", "properties": {"q": {"type": "string"}, "suggestions": {"type": "array", "items": {
                "type": "object", "required": ["text", "kind"], "properties": {
                    "text": {"type": "string"}, "kind": {"type": "string", "enum": ["completion", "tag", "article"]},
                    "id": {"type": "string", "description": "Articles only."},
                    "url": {"type": "string", "description": "Articles only."}}}}}},
        ),
        "/healthz": {"get": {"summary": "Liveness and the serving index generation.", "responses": {
            "200": _json({"type": "object", "properties": {"status": {"const": "ok"}, "generation": {"type": "integer"},
                                                           "doc_count": {"type": "integer"}}}, "Serving"),
            **_errors(503)}}},
        "/api/openapi.json": {"get": {"summary": "This document.", "responses": {
            "200": _json({"type": "object"}, "The OpenAPI document")}}},
    }


def _schemas() -> dict[str, Any]:
    string_list = {"type": "array", "items": {"type": "string"}}
    nullable = {"type": ["string", "null"]}
    return {
        "Error": {
            "type": "object", "required": ["error"], "additionalProperties": False,
            "properties": {"error": {"type": "object", "required": ["code", "message"], "additionalProperties": False,
                                     "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
        },
        "FacetValue": {"type": "object", "properties": {"value": {"type": "string"}, "count": {"type": "integer"}}},
        "Hit": {
            "type": "object",
            "properties": {
                "id": {"type": "string"}, "title": {"type": "string"}, "url": {"type": "string"},
                "published": nullable, "category": {"type": "string"}, "tags": string_list,
                "author": {"type": "string"}, "source": {"type": "string"}, "score": {"type": "number"},
                "highlight": {"type": "object", "description": "HTML: text escaped, matches in <mark>.",
                              "properties": {"title": {"type": "string"}, "snippet": {"type": "string"}}},
            },
        },
        "RelatedHit": {"allOf": [{"$ref": "#/components/schemas/Hit"}, {"type": "object", "properties": {
            "shared_tags": string_list, "shared_terms": string_list}}]},
        "Article": {
            "type": "object", "required": ["id", "title"],
            "properties": {
                "id": {"type": "string"}, "title": {"type": "string"}, "lead": {"type": "string"},
                "body": {"type": "string"}, "category": {"type": "string"}, "tags": string_list,
                "author": {"type": "string"}, "published": nullable, "url": {"type": "string"},
                "source": {"type": "string"},
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("searchsvc")
    except PackageNotFoundError:
        ver = "0"
    return {
        "openapi": "3.1.0",
        "info": {"title": "searchsvc", "version": ver,
                 "description": "Full-text search over Vietnamese news. Unknown query parameters are ignored. "
                                "Every error answers {\"error\": {\"code\", \"message\"}}."},
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"operatorToken": {"type": "http", "scheme": "bearer"}},
        },
    }
