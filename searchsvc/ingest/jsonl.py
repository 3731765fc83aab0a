"""JSONL reader: one JSON object a line, plain or gzip, from a file or a binary stream (stdin).

We read bytes and split on b"\\n" ourselves: records contain U+2028, which text-mode iteration and
str.splitlines() would treat as line breaks, and a line in a legacy encoding must be rejected
rather than silently decoded with replacement characters.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from searchsvc.articles import Article, Rejected, article_from_mapping

NOT_UTF8 = "not UTF-8 (legacy encoding such as Windows-1258?)"

Numbered = tuple[int, Article | Rejected]


def read_jsonl_stream(stream: Iterable[bytes], source: str, max_chars: int) -> Iterator[Numbered]:
    """Yield (1-based line number, Article or Rejected) for each non-blank line of `stream`."""
    for number, raw in enumerate(stream, start=1):  # binary iteration splits on b"\n" only
        item = _parse_line(raw, number == 1, source, number, max_chars)
        if item is not None:
            yield number, item


def read_jsonl(path: Path, max_chars: int) -> Iterator[Numbered]:
    """Read a .jsonl or .jsonl.gz file; Rejected items name the path as given."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as stream:
        yield from read_jsonl_stream(stream, str(path), max_chars)


def _parse_line(raw: bytes, first: bool, source: str, number: int, max_chars: int) -> Article | Rejected | None:
    if first and raw.startswith(b"\xef\xbb\xbf"):  # editors on Windows add a BOM
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Rejected(source, number, NOT_UTF8)
    if not text.strip():
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejected(source, number, f"invalid JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(record, dict):
        return Rejected(source, number, f"expected a JSON object, got {_json_type(record)}")
    try:
        return article_from_mapping(record, max_chars)
    except ValueError as exc:
        return Rejected(source, number, str(exc))


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
