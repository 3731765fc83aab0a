"""Hostile article input: every bad record is reported with its line and reason, every good one is
indexed, and what is indexed is stored as written (no silent drop, no mangling)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from searchsvc.articles import Article, Rejected, Superseded
from searchsvc.cli import main
from searchsvc.ingest import read_sources
from searchsvc.search.engine import Engine, SearchRequest

NFD_TITLE = unicodedata.normalize("NFD", "Người dân Quảng Ninh chống bão")
ZW_TITLE = "Giá\u200bvàng tăng\u200d mạnh\ufeff"


def line(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def ok(ident: str, **fields: Any) -> dict[str, Any]:
    return {"id": ident, "title": "Giá vàng hôm nay", "body": "Giá vàng miếng tăng mạnh.", **fields}


# (line bytes, expected reason fragment or None when valid)
LINES: list[tuple[bytes, str | None]] = [
    (b"\xef\xbb\xbf" + line(ok("v1")), None),  # BOM on the first line
    (line(ok("v2", title=NFD_TITLE)), None),
    (line(ok("v3", title=ZW_TITLE)), None),
    (line(ok("v4", body="Dòng một\u2028dòng hai", tags=["<b>Thẻ</b>", "Kinh tế"])), None),
    (line(ok("v5", id=12345)), None),  # integer ids are accepted as text
    (b"", None),  # blank lines are skipped, not errors
    (b'{"id": "bad1", "title": "Thi\xeau \xf0\xe1 c\xf3 d\xe2\xa5u"}', "not UTF-8"),
    ("Giá vàng".encode("cp1258").join([b'{"id": "bad2", "title": "', b'", "body": "x"}']), "not UTF-8"),
    (b'{"id": "bad3", "title": "unterminated', "invalid JSON"),
    (b"{'id': 'bad4'}", "invalid JSON"),
    (b"[1, 2, 3]", "expected a JSON object, got an array"),
    (b'"just a string"', "expected a JSON object, got a string"),
    (b"null", "expected a JSON object, got null"),
    (line(ok("bad5", title=42)), "field 'title' must be a string, got int"),
    (line(ok("bad6", tags={"a": 1})), "field 'tags' must be a list of strings"),
    (line(ok("bad7", tags=["ok", 3])), "field 'tags' must be a list of strings, found a int"),
    (line(ok("bad8", published=20240101)), "field 'published' must be an ISO 8601 string"),
    (line(ok("bad9", published="tomorrow")), "field 'published' is not an ISO 8601"),
    (line({**ok("x"), "id": True}), "field 'id' must be a string or an integer, got bool"),
    (line({**ok("x"), "id": "   "}), "field 'id' is empty"),
    (line({"title": "Không có id", "body": "x"}), "missing field 'id'"),
    (line({"id": "bad10", "body": "x"}), "missing field 'title'"),
    (line({"id": "bad11", "title": "Tiêu đề", "lead": "", "body": None}), "no text"),
    (line(ok("bad12", body="chữ " * 3000)), "too large"),
    (line(ok("v1", title="Bản trùng")), None),  # a later copy of v1: it wins, the first is reported
    (line(ok("v6")), None),
]
VALID = {"v1", "v2", "v3", "v4", "12345", "v6"}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(raw for raw, _ in LINES) + b"\n")
    return path


def test_reader_reports_each_bad_line_with_its_number_and_reason(source: Path) -> None:
    items = list(read_sources([str(source)], max_chars=10_000))
    accepted = {i.id for i in items if isinstance(i, Article)}
    rejected = {r.line: r.reason for r in items if isinstance(r, Rejected)}
    assert accepted == VALID
    expected = {n: why for n, (_, why) in enumerate(LINES, 1) if why is not None}
    assert set(rejected) == set(expected)
    for n, why in expected.items():
        assert why in rejected[n], (n, rejected[n])
    v1 = [n for n, (raw, _) in enumerate(LINES, 1) if b'"v1"' in raw]
    superseded = [i for i in items if isinstance(i, Superseded)]
    assert [(i.line, i.id) for i in superseded] == [(v1[0], "v1")]
    assert f"appears again at {source} line {v1[1]}" in superseded[0].reason
    assert len(items) == len(LINES) - 1 + 1  # everything but the blank line is accounted for, and the repeat


def test_cli_reindex_indexes_every_valid_record_and_lists_every_rejection(source: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCHSVC_MAX_ARTICLE_CHARS", "10000")
    home = tmp_path / "index"
    result = CliRunner().invoke(main, ["--index-dir", str(home), "reindex", "--procs", "1", str(source)])
    assert result.exit_code == 1  # more rejects than --max-rejects 0 ...
    assert "records rejected, more than --max-rejects 0; nothing was published" in result.stderr
    bad = [n for n, (_, why) in enumerate(LINES, 1) if why is not None]
    for n in bad:
        assert f"{source}:{n}: " in result.stderr
    assert "Traceback" not in result.stderr
    assert not home.joinpath("CURRENT").exists()  # ... so nothing was published
    tolerant = CliRunner().invoke(main, ["--index-dir", str(home), "reindex", "--procs", "1", "--max-rejects",
                                         str(len(bad)), str(source)])
    assert tolerant.exit_code == 0, tolerant.stderr
    engine = Engine.open(home)  # within the limit, every good record is indexed, the last v1 in place of the first
    assert sorted(f["id"] for _, f in engine.snapshot.documents()) == sorted(VALID)
    assert engine.article("v1")["title"] == "Bản trùng"


def test_indexed_text_is_stored_as_written_and_found_either_way(source: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCHSVC_MAX_ARTICLE_CHARS", "10000")
    home = tmp_path / "index"
    CliRunner().invoke(main, ["--index-dir", str(home), "reindex", "--procs", "1", "--max-rejects", "99", str(source)])
    engine = Engine.open(home)
    assert engine.article("v2")["title"] == NFD_TITLE  # NFD kept byte for byte ...
    assert engine.article("v3")["title"] == ZW_TITLE  # zero-width characters kept
    assert engine.article("v4")["body"] == "Dòng một\u2028dòng hai"
    assert engine.article("v4")["tags"] == ["<b>Thẻ</b>", "Kinh tế"]

    def found(q: str) -> list[str]:
        return [h.id for h in engine.search(SearchRequest(q=q)).hits]

    assert "v2" in found("Quảng Ninh") and "v2" in found("quang ninh")  # ... and found by NFC and folded queries
    assert "v3" in found("tăng mạnh") and "v3" in found("giá")  # zero-width characters do not hide words
    assert "v4" in found("dòng hai")


def test_cli_add_reports_and_applies_nothing_over_the_limit(source: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCHSVC_MAX_ARTICLE_CHARS", "10000")
    home = tmp_path / "index"
    first = tmp_path / "first.jsonl"
    first.write_bytes(line(ok("seed")) + b"\n")
    assert CliRunner().invoke(main, ["--index-dir", str(home), "reindex", "--procs", "1", str(first)]).exit_code == 0
    result = CliRunner().invoke(main, ["--index-dir", str(home), "add", str(source)])
    assert result.exit_code == 1 and f"{source}:7: not UTF-8" in result.stderr
    assert "nothing was applied" in result.stderr
    assert {f["id"] for _, f in Engine.open(home).snapshot.documents()} == {"seed"}
    tolerant = CliRunner().invoke(main, ["--index-dir", str(home), "add", "--max-rejects", "99", str(source)])
    assert tolerant.exit_code == 0, tolerant.stderr
    assert {f["id"] for _, f in Engine.open(home).snapshot.documents()} == VALID | {"seed"}


# ------------------------------------------------------------------------------------ over HTTP


@pytest.fixture
def operator_app(make_app: Any, index_dir: Path) -> Flask:
    return make_app(index_dir, OPERATOR_TOKEN="s3cret", MAX_ARTICLE_CHARS=5_000, MAX_CONTENT_LENGTH=50_000)


AUTH = {"Authorization": "Bearer s3cret"}


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "must be a JSON article object"),
    (b"[]", "must be a JSON article object"),
    (b"[1, 2]", "must be a JSON article object"),
    (b'"text"', "must be a JSON article object"),
    (json.dumps([ok("h1"), ok("h2", title=7)]).encode(), "article 2: field 'title' must be a string"),
    (json.dumps(ok("h3", body="chữ " * 2000)).encode(), "too large"),
    (json.dumps(ok("h4", tags="a,b", published={"y": 1})).encode(), "field 'published' must be"),
    ("Giá".encode("cp1258").join([b'{"id": "h5", "title": "', b'", "body": "x"}']), "JSON article object"),
])
def test_http_add_rejects_the_whole_batch_with_the_reason(operator_app: Flask, body: bytes, reason: str) -> None:
    client = operator_app.test_client()
    response = client.post("/api/articles", data=body, headers=AUTH, content_type="application/json")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and reason in error["message"]
    assert client.get("/api/articles/h1").status_code == 404  # all or nothing


def test_http_add_over_the_body_limit_is_413_json(operator_app: Flask) -> None:
    response = operator_app.test_client().post("/api/articles", json=ok("big", body="x" * 60_000), headers=AUTH)
    assert response.status_code == 413
    assert set(response.get_json()["error"]) == {"code", "message"}


def test_http_add_keeps_nfd_and_zero_width_text_as_written(operator_app: Flask) -> None:
    client = operator_app.test_client()
    batch = [ok("n1", title=NFD_TITLE), ok("n2", title=ZW_TITLE)]
    response = client.post("/api/articles", json=batch, headers=AUTH)
    assert response.status_code == 200 and response.get_json()["indexed"] == 2
    assert client.get("/api/articles/n1").get_json()["title"] == NFD_TITLE
    assert client.get("/api/articles/n2").get_json()["title"] == ZW_TITLE
    hits = client.get("/api/search", query_string={"q": "quang ninh"}).get_json()["hits"]
    assert [h["id"] for h in hits][:1] == ["n1"]
