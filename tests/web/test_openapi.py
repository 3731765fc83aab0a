"""The OpenAPI document describes every JSON route, with every method it answers."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_route_is_documented(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    paths = doc["paths"]
    checked = 0
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api") or rule.rule == "/healthz"):
            continue
        path = _openapi_path(rule.rule)
        assert path in paths, f"{rule.rule} is not in the OpenAPI document"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], f"{method} {rule.rule} is not in the OpenAPI document"
            checked += 1
    assert checked >= 11


def test_document_is_openapi_3_1_with_the_error_schema(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(error["properties"]["error"]["properties"]) == {"code", "message"}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert "200" in operation["responses"], f"{method} {path}"
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {status}"


def test_path_parameters_are_declared(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    for path, item in doc["paths"].items():
        wanted = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == wanted, f"{method} {path}"
