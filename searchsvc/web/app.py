"""The Flask application: ``create_app`` builds everything; nothing happens at import time.

This module owns the cross-cutting HTTP concerns: configuration, the one error handler (the only
place, besides the CLI, that turns a domain error into output), CORS, security headers and the
per-process search engine. Routes live in ``api.py`` (JSON) and ``web/`` (the page).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from searchsvc import config
from searchsvc.errors import InputError, SearchsvcError
from searchsvc.web import metrics
from searchsvc.web.api import bp as api_bp
from searchsvc.web.jsonout import JSONProvider
from searchsvc.web.pages import bp as pages_bp
from searchsvc.web.replication import init_app as init_replication
from searchsvc.web.slot import EXTENSION, EngineSlot

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    # No 308 redirect (with an HTML body) for "//" in a path: an encoded "/" in a tag or id is data.
    app.url_map.merge_slashes = False
    # Parsed and checked once, here, by the same function as the CLI's: a bad SEARCHSVC_* value stops the
    # start with a SettingsError naming it. Flask reads MAX_CONTENT_LENGTH itself (413): the same name.
    settings = config.load(overrides=test_config)
    app.config.from_mapping(settings)
    if test_config is not None:
        app.config.from_mapping({k: v for k, v in test_config.items() if k not in settings})
    app.json = JSONProvider(app)  # Vietnamese as characters, not \u escapes; orjson's speed

    app.extensions[EXTENSION] = EngineSlot(Path(app.config["INDEX_DIR"]), settings)

    app.register_blueprint(api_bp)
    app.register_blueprint(pages_bp)
    init_replication(app)

    metrics.init_app(app)  # first of the request hooks: a request they refuse is counted too
    app.register_error_handler(Exception, _handle_error)
    app.before_request(_utf8_query_string)
    app.before_request(_preflight)
    app.after_request(_cors)
    app.after_request(_security_headers)
    return app


def error_response(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _handle_error(exc: Exception) -> Response:
    """The one translator from exceptions to the JSON error shape."""
    if isinstance(exc, SearchsvcError):
        return error_response(exc.status, exc.code, exc.message)
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(status, code, exc.description or exc.name)
        if status == 405 and exc.response is None:
            allowed = exc.get_headers()
            for name, value in allowed:
                if name.lower() == "allow":
                    response.headers["Allow"] = value
        return response
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "internal error; the server log has the details")


def _allowed_origin() -> str | None:
    origin = request.headers.get("Origin")
    if not origin:
        return None
    configured = [o.strip().rstrip("/") for o in str(current_app.config["CORS_ORIGINS"]).split(",") if o.strip()]
    if "*" in configured or origin.rstrip("/") in configured:
        return origin
    return None


def _utf8_query_string() -> None:
    # Werkzeug decodes percent-escapes that are not UTF-8 (``q=%C3%28``) into U+FFFD without a word, and
    # raw bytes that are not UTF-8 into a UnicodeDecodeError, a 500, in whichever view reads them. Each
    # parameter is checked here instead, so the answer is a 400 naming it.
    for pair in request.query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        for part in (name, value):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                shown = unquote_to_bytes(name).decode("utf-8", "replace")[:40]
                raise InputError(f"parameter '{shown}' is not valid UTF-8: percent-encode its text as UTF-8") from None


def _preflight() -> Response | None:
    # A CORS preflight is answered here, before routing, so every API route gets one without
    # declaring OPTIONS itself.
    if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
        response = current_app.response_class(status=204)
        if _allowed_origin() is not None:
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, If-None-Match"
            response.headers["Access-Control-Max-Age"] = "600"
        return response
    return None


def _cors(response: Response) -> Response:
    origin = _allowed_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "ETag"
    # The answer depends on Origin whenever origins are configured, so caches must key on it.
    if current_app.config["CORS_ORIGINS"]:
        response.vary.add("Origin")
    return response


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response
