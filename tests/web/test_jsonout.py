"""JSON out through orjson writes, byte for byte, what Flask's own provider writes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask.testing import FlaskClient

from searchsvc.web.jsonout import JSONProvider


def _flask_own(app: Flask) -> DefaultJSONProvider:
    own = DefaultJSONProvider(app)
    own.ensure_ascii = False
    return own


def test_answers_are_the_bytes_flasks_provider_writes(app: Flask, client: FlaskClient) -> None:
    assert isinstance(app.json, JSONProvider)
    own = _flask_own(app)
    for path in ("/api/search?q=tre+em&per_page=5", "/api/search?q=Hà Nội", "/api/tags?prefix=", "/healthz",
                 "/api/search?q=&tag=nope"):
        body = client.get(path).get_json()
        with app.app_context():
            assert app.json.response(body).get_data() == own.response(body).get_data()
    assert "Hà Nội" in client.get("/api/search?q=Hà Nội").get_data(as_text=True)  # characters, not \u escapes


def test_types_orjson_leaves_to_flask_and_values_it_refuses(app: Flask) -> None:
    own = _flask_own(app)
    values = {"when": date(2024, 1, 31), "at": datetime(2024, 1, 31, 7, 30), "price": Decimal("1.50"),
              "keys": {"3": "ba", "10": [1.5, None, True]}, "text": "Trẻ em\u2028\"\\\n\x01"}
    # orjson refuses these answers whole, and the standard library writes them (3 sorts before 10 there).
    refused = [{**values, "big": 2**70}, {**values, "keys": {3: "ba", 10: [1.5]}}]
    with app.app_context():
        for answer in (values, *refused):
            assert app.json.response(answer).get_data() == own.response(answer).get_data()
    app.debug = True
    with app.app_context():  # pretty printing stays Flask's
        assert app.json.response(values).get_data() == own.response(values).get_data()
