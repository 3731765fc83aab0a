"""The JSON API blueprint: parameters in, engine calls, plain JSON out.

Views validate what the caller sent (raising InputError with a message naming the parameter),
call the Engine, and turn its dataclasses into JSON. Errors are not rendered here: every
exception goes to the one handler in ``app.py``. Unknown query parameters are ignored, so
clients may add cache-busters or tracking parameters without breaking.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from searchsvc.articles import Article, article_from_mapping
from searchsvc.errors import Forbidden, InputError, NotFound
from searchsvc.search.engine import Engine
from searchsvc.search.results import FacetValue, Hit, RelatedHit, SearchRequest, Suggestion
from searchsvc.store import writer
from searchsvc.store.home import IndexHome
from searchsvc.web.openapi import openapi_document
from searchsvc.web.slot import get_engine

bp = Blueprint("api", __name__)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ------------------------------------------------------------------------------------ parameters


def _setting(name: str) -> int:
    return int(current_app.config[name])


def int_param(name: str, default: int, lo: int | None = None, hi: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[+-]?\d{1,12}", raw.strip()):
        raise InputError(f"parameter '{name}' must be a whole number, got {raw[:40]!r}")
    value = int(raw)
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise InputError(f"parameter '{name}' must be between {lo} and {hi}, got {value}")
    return value


def date_param(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    # fromisoformat alone would also take "20240131" and week dates; the API promises YYYY-MM-DD.
    try:
        if not _ISO_DATE.match(raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise InputError(f"parameter '{name}' must be a date as YYYY-MM-DD, got {raw[:40]!r}") from None


def flag_param(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise InputError(f"parameter '{name}' must be 1 or 0, got {raw[:40]!r}")


def text_param(name: str, limit: int | None = None) -> str:
    value = request.args.get(name, "")
    limit = _setting("MAX_QUERY_CHARS") if limit is None else limit
    if len(value) > limit:
        raise InputError(f"parameter '{name}' is {len(value)} characters long; the limit is {limit}")
    return value


def limit_param(default: int) -> int:
    return int_param("limit", default, 1, _setting("MAX_PER_PAGE"))


# ------------------------------------------------------------------------------------ caching


def _etag(engine: Engine) -> str:
    # What the engine serves (generation + its change marker) plus the path and the query string as sent:
    # any new data or any other parameters give another tag. The engine's view is used, not the disk's, so a
    # worker that has not reloaded yet never labels old results with a new tag. (Not ``request.url``: building
    # that IRI cost more than the rest of the tag.)
    path = request.script_root + request.path  # its length keeps an encoded "?" in it from meeting the query's
    marker = f"{engine.state_tag()}|{len(path)}|{path}|".encode() + request.query_string
    return hashlib.sha256(marker).hexdigest()[:32]


def conditional(view: Callable[..., Response]) -> Callable[..., Response]:
    """ETag + Cache-Control: no-cache on a GET view; an If-None-Match that still matches gets 304."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        tag = _etag(get_engine())
        if tag in request.if_none_match:
            response = current_app.response_class(status=304)
        else:
            response = view(*args, **kwargs)
        response.set_etag(tag)
        response.headers["Cache-Control"] = "no-cache"
        return response

    return wrapper


# ------------------------------------------------------------------------------------ serialising


def hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "id": hit.id,
        "title": hit.title,
        "url": hit.url,
        "published": hit.published,
        "category": hit.category,
        "tags": list(hit.tags),
        "author": hit.author,
        "source": hit.source,
        "score": round(float(hit.score), 4),
        "highlight": {"title": hit.title_html, "snippet": hit.snippet_html},
    }


def related_json(rel: RelatedHit) -> dict[str, Any]:
    return {**hit_json(rel.hit), "shared_tags": list(rel.shared_tags), "shared_terms": list(rel.shared_terms)}


def facet_json(values: list[FacetValue]) -> list[dict[str, Any]]:
    return [{"value": v.value, "count": v.count} for v in values]


# ------------------------------------------------------------------------------------ read routes


def search_request() -> SearchRequest:
    """The parameters as typed values; their limits are checked once, by the engine (``results.validate``)."""
    return SearchRequest(
        q=request.args.get("q", ""),
        tags=tuple(t for t in request.args.getlist("tag") if t.strip()),
        category=request.args.get("category") or None,
        author=request.args.get("author") or None,
        date_from=date_param("from"),
        date_to=date_param("to"),
        sort=request.args.get("sort") or "relevance",
        page=int_param("page", 1),
        per_page=int_param("per_page", 10),
        verbatim=flag_param("verbatim"),
    )


@bp.get("/api/search")
@conditional
def search() -> Response:
    req = search_request()
    result = get_engine().search(req)
    return jsonify(
        {
            "query": {
                "q": req.q, "tags": list(req.tags), "category": req.category, "author": req.author,
                "from": req.date_from.isoformat() if req.date_from else None,
                "to": req.date_to.isoformat() if req.date_to else None, "sort": req.sort,
                "verbatim": req.verbatim,
            },
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "took_ms": round(float(result.took_ms), 2),
            "all_words_matched": result.all_words_matched,
            "all_words_total": result.all_words_total,
            "partial": result.partial,
            "did_you_mean": result.did_you_mean,
            "interpreted_as": result.interpreted_as,
            "hits": [hit_json(h) for h in result.hits],
            "facets": {name: facet_json(values) for name, values in result.facets.items()},
        }
    )


@bp.get("/api/tags")
@conditional
def tags() -> Response:
    prefix = text_param("prefix")
    values = get_engine().tags(prefix, limit=limit_param(20))
    return jsonify({"prefix": prefix, "tags": facet_json(values)})


@bp.get("/api/tags/<path:tag>")
@conditional
def tag_articles(tag: str) -> Response:
    if len(tag) > _setting("MAX_QUERY_CHARS"):
        raise InputError(f"tag is {len(tag)} characters long; the limit is {_setting('MAX_QUERY_CHARS')}")
    hits = get_engine().tag_articles(tag, limit=limit_param(20))
    return jsonify({"tag": tag, "hits": [hit_json(h) for h in hits]})


@bp.get("/api/articles/<article_id>")
@conditional
def article(article_id: str) -> Response:
    return jsonify(get_engine().article(article_id))


@bp.get("/api/articles/<article_id>/related")
@conditional
def related(article_id: str) -> Response:
    items = get_engine().related(article_id, limit=limit_param(10))
    return jsonify({"id": article_id, "related": [related_json(r) for r in items]})


@bp.post("/api/related")
def related_to_text() -> Response:
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise InputError('the body must be a JSON object {"title": "...", "body": "..."}')
    title, body = data.get("title", ""), data.get("body", "")
    if not isinstance(title, str) or not isinstance(body, str):
        raise InputError("'title' and 'body' must be strings")
    if not title.strip() and not body.strip():
        raise InputError("'title' or 'body' must contain some text")
    limit = limit_param(10)
    items = get_engine().related_to_text(title, body, limit=limit)
    return jsonify({"related": [related_json(r) for r in items]})


@bp.get("/api/suggest")
@conditional
def suggest() -> Response:
    q = text_param("q")
    items = get_engine().suggest(q, limit=limit_param(8)) if q.strip() else []
    return jsonify({"q": q, "suggestions": [suggestion_json(s) for s in items]})


def suggestion_json(s: Suggestion) -> dict[str, Any]:
    out = {"text": s.text, "kind": s.kind}
    return {**out, "id": s.id, "url": s.url} if s.kind == "article" else out


@bp.get("/healthz")
def healthz() -> Response:
    response = jsonify({"status": "ok", **get_engine().health()})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


# ------------------------------------------------------------------------------------ operator routes


def require_operator() -> IndexHome:
    """Refuse unless an operator token is configured and the request carries it."""
    token = str(current_app.config.get("OPERATOR_TOKEN") or "")
    if not token:
        raise Forbidden("operator endpoints are disabled: set SEARCHSVC_OPERATOR_TOKEN to enable them")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    # compare_digest: the time taken must not reveal how much of a guessed token was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Forbidden("missing or wrong operator token (send 'Authorization: Bearer <token>')")
    return IndexHome(Path(current_app.config["INDEX_DIR"]))


def articles_from_body() -> tuple[list[Article], list[str]]:
    """The batch's articles, the last copy of a repeated id winning (as on the CLI), and the notes on the
    earlier copies it replaced."""
    data = request.get_json(silent=True, force=True)
    records = data if isinstance(data, list) else [data]
    if not records or not all(isinstance(r, dict) for r in records):
        raise InputError("the body must be a JSON article object or a non-empty list of them")
    latest: dict[str, tuple[int, Article]] = {}
    superseded: list[str] = []
    problems: list[str] = []
    for n, record in enumerate(records, 1):
        try:
            a = article_from_mapping(record, max_chars=_setting("MAX_ARTICLE_CHARS"))
        except ValueError as exc:
            problems.append(f"article {n}: {exc}")
            continue
        if a.id in latest:
            superseded.append(f"article {latest[a.id][0]}: id {a.id!r} appears again as article {n}")
        latest[a.id] = (n, a)
    # All or nothing over HTTP: a client can fix and resend the batch without working out which half landed.
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InputError("; ".join(problems[:3]) + more + "; nothing was indexed")
    return [a for _, a in latest.values()], superseded


@bp.post("/api/articles")
def add_articles() -> Response:
    home = require_operator()
    articles, superseded = articles_from_body()
    report = writer.add(home, articles)
    return jsonify({"indexed": report.indexed, "generation": report.generation, "superseded": superseded})


@bp.delete("/api/articles/<article_id>")
def delete_article(article_id: str) -> Response:
    home = require_operator()
    report = writer.delete(home, [article_id])
    if report.deleted == 0:
        raise NotFound(f"no article with id {article_id!r}")
    return jsonify({"deleted": report.deleted, "generation": report.generation})
