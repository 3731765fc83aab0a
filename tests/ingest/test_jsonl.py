import gzip
import io
import json
import sys
from pathlib import Path

import pytest

from searchsvc.articles import Article, Rejected, Superseded
from searchsvc.errors import InputError
from searchsvc.ingest import read_sources
from searchsvc.ingest.jsonl import NOT_UTF8, read_jsonl_stream

LIMIT = 1_000_000


def line(**record: object) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


def good(article_id: str, **extra: object) -> bytes:
    return line(id=article_id, title=f"Tiêu đề {article_id}", body="Nội dung bài viết.", **extra)


def write(path: Path, *lines: bytes) -> str:
    path.write_bytes(b"".join(lines))
    return str(path)


def test_each_line_becomes_an_article_or_a_numbered_rejection(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.jsonl",
        good("a"),
        b"\n",  # blank lines are skipped but still counted
        b'{"id": "b", "title": \n',
        b"[1, 2]\n",
        line(id="c", title="T"),
        line(id="d", title="T", body="B", published="hôm qua"),
        line(id="e", title=5, body="B"),
        good("f"),
    )
    items = list(read_sources([path]))
    assert [i.id for i in items if isinstance(i, Article)] == ["a", "f"]
    rejected = [(r.source, r.line, r.reason.split(":")[0]) for r in items if isinstance(r, Rejected)]
    assert rejected == [
        (path, 3, "invalid JSON"),
        (path, 4, "expected a JSON object, got an array"),
        (path, 5, "no text"),
        (path, 6, "field 'published' is not an ISO 8601 date or datetime"),
        (path, 7, "field 'title' must be a string, got int"),
    ]


def test_legacy_encoding_line_is_rejected_not_mangled(tmp_path: Path) -> None:
    # Windows-1258 writes tones as combining marks after a precomposed base: ê + U+0301 for ế.
    title = "Tiê\u0301ng Viê\u0323t"
    cp1258 = json.dumps({"id": "x", "title": title, "body": "Bài báo"}, ensure_ascii=False).encode("cp1258")
    path = write(tmp_path / "in.jsonl", good("a"), cp1258 + b"\n", good("b"))
    items = list(read_sources([path]))
    assert items[1] == Rejected(path, 2, NOT_UTF8)
    assert [i.id for i in items if isinstance(i, Article)] == ["a", "b"]


def test_u2028_inside_a_record_does_not_split_it(tmp_path: Path) -> None:
    body = "Đoạn một\u2028đoạn hai\u2029đoạn ba\x85hết."
    path = write(tmp_path / "in.jsonl", line(id="a", title="T", body=body), good("b"))
    items = list(read_sources([path]))
    assert items == [
        Article(id="a", title="T", body=body),
        Article(id="b", title="Tiêu đề b", body="Nội dung bài viết."),
    ]


def test_nfd_text_is_kept_as_written(tmp_path: Path) -> None:
    nfd = "Ba\u0301o chi\u0301 Vie\u0323\u0302t Nam"
    path = write(tmp_path / "in.jsonl", line(id="a", title=nfd, body=nfd))
    (article,) = read_sources([path])
    assert isinstance(article, Article) and article.title == nfd and article.body == nfd


def test_bom_at_start_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", b"\xef\xbb\xbf" + good("a"))
    assert [type(i) for i in read_sources([path])] == [Article]


def test_gzip_input(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl.gz"
    with gzip.open(path, "wb") as gz:
        gz.write(good("a") + b"not json\n" + good("b"))
    items = list(read_sources([str(path)]))
    assert [getattr(i, "id", None) for i in items] == ["a", None, "b"]
    assert isinstance(items[1], Rejected) and items[1].line == 2


def test_oversize_record_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", line(id="a", title="T", body="x" * 200), good("b"))
    items = list(read_sources([path], max_chars=100))
    assert items[0] == Rejected(path, 1, "too large: 201 characters of title+lead+body, limit 100")
    assert isinstance(items[1], Article)


def test_duplicate_ids_across_files_last_wins(tmp_path: Path) -> None:
    first = write(tmp_path / "one.jsonl", good("a"), good("b"))
    second = write(tmp_path / "two.jsonl", good("c"), line(id="a", title="Khác", body="Khác"))
    items = list(read_sources([first, second]))
    assert [i.id for i in items if isinstance(i, Article)] == ["a", "b", "c", "a"]
    assert items[3] == Superseded(first, 1, "a", f"id 'a' appears again at {second} line 2; the later copy is indexed")
    assert isinstance(items[4], Article) and items[4].title == "Khác"  # the later copy follows its notice


def test_stream_reader_numbers_lines() -> None:
    stream = io.BytesIO(good("a") + b"\n" + b"{}\n" + good("b"))
    numbered = [(n, type(i).__name__) for n, i in read_jsonl_stream(stream, "<stdin>", LIMIT)]
    assert numbered == [(1, "Article"), (3, "Rejected"), (4, "Article")]


def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(good("a") + b"oops\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    items = list(read_sources(["-"]))
    assert isinstance(items[0], Article)
    assert isinstance(items[1], Rejected) and (items[1].source, items[1].line) == ("<stdin>", 2)


def test_forced_format_reads_any_file_name(tmp_path: Path) -> None:
    path = write(tmp_path / "export.txt", good("a"))
    assert [i.id for i in read_sources([path], fmt="jsonl") if isinstance(i, Article)] == ["a"]


@pytest.mark.parametrize(
    ("name", "fmt", "message"),
    [
        ("missing.jsonl", None, "no such file or folder"),
        ("data.json", None, "unknown input type"),
        ("data.jsonl", "xml", "unknown input format 'xml'"),
        ("folder", "jsonl", "format 'jsonl' needs a file"),
    ],
)
def test_bad_sources_raise_input_error_before_reading(tmp_path: Path, name: str, fmt: str | None, message: str) -> None:
    write(tmp_path / "data.json", good("a"))
    write(tmp_path / "data.jsonl", good("a"))
    (tmp_path / "folder").mkdir()
    with pytest.raises(InputError, match=message) as caught:
        next(read_sources([str(tmp_path / name)], fmt=fmt))
    assert caught.value.status == 400
