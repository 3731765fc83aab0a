"""Ingest: turn input sources into a stream of Articles and per-record rejections.

Readers never stop at a bad record: each becomes a Rejected with its place and reason, so one
malformed line in a 30,000-line file costs one article, not the batch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from searchsvc.articles import Article, Rejected, Superseded
from searchsvc.errors import InputError
from searchsvc.ingest.jsonl import read_jsonl, read_jsonl_stream
from searchsvc.ingest.scraped import read_page, read_scraped_folder

FORMATS = ("jsonl", "scraped")
STDIN = "-"
STDIN_NAME = "<stdin>"
SCRAPED_SUFFIX = ".txt"

__all__ = ["FORMATS", "read_sources"]

# Where an item came from: (file or "<stdin>", 1-based line, or 0 for a whole scraped page).
Place = tuple[str, int]


def read_sources(
    paths: Sequence[str], fmt: str | None = None, max_chars: int = 1_000_000
) -> Iterator[Article | Rejected | Superseded]:
    """Read every path in order: `.jsonl`/`.jsonl.gz` files, scraped pages (a `.txt` file or a folder of
    them), or `-` (JSONL on stdin).

    `fmt` forces the reader for every path. Unknown formats, missing paths and unrecognised
    extensions raise InputError before anything is yielded. Within one call the last record of an id
    wins (a correction feed appends the corrected article): when an id comes again, a Superseded naming
    the earlier record is yielded just before the later Article.
    """
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r}; expected one of: {', '.join(FORMATS)}")
    readers = [(path, _reader_kind(path, fmt)) for path in paths]  # validate all before reading any
    last_seen: dict[str, Place] = {}
    for path, kind in readers:
        for place, item in _read_one(path, kind, max_chars):
            if isinstance(item, Article):
                earlier = last_seen.get(item.id)
                if earlier is not None:
                    yield Superseded(*earlier, item.id,
                                     f"id {item.id!r} appears again {_describe(place)}; the later copy is indexed")
                last_seen[item.id] = place
            yield item


def _reader_kind(path: str, fmt: str | None) -> str:
    if path == STDIN:
        if fmt == "scraped":
            raise InputError("stdin can only be read as JSONL")
        return "jsonl"
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such file or folder: {path}")
    if fmt == "jsonl" and p.is_dir():
        raise InputError(f"{path}: format 'jsonl' needs a file, not a folder")
    if fmt is not None:
        return fmt
    if p.is_dir() or p.name.endswith(SCRAPED_SUFFIX):
        return "scraped"
    if p.name.endswith((".jsonl", ".jsonl.gz")):
        return "jsonl"
    raise InputError(f"{path}: unknown input type; expected .jsonl, .jsonl.gz, a scraped page (.txt), a folder "
                     "of scraped pages, or -")


def _read_one(path: str, kind: str, max_chars: int) -> Iterator[tuple[Place, Article | Rejected]]:
    if path == STDIN:
        for line, item in read_jsonl_stream(sys.stdin.buffer, STDIN_NAME, max_chars):
            yield (STDIN_NAME, line), item
    elif kind == "jsonl":
        for line, item in read_jsonl(Path(path), max_chars):
            yield (path, line), item
    elif Path(path).is_dir():
        for page, item in read_scraped_folder(Path(path), max_chars):
            yield (page, 0), item
    else:
        yield (path, 0), read_page(Path(path), max_chars)


def _describe(place: Place) -> str:
    source, line = place
    return f"in {source}" if line == 0 else f"at {source} line {line}"
