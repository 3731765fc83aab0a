"""Reader for a folder of scraped pages in the seed layout (see ../shared/data/README.md, seed/).

The layout: section, breadcrumb, title, time, lead, body paragraphs, author byline, `TAG:` line,
then `Tin khác` and the sidebar's titles. Those sidebar titles are *other* articles: indexing them
here would make this page match searches for stories it does not contain, so we stop at `TAG:`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from searchsvc.articles import VIETNAM_TZ, Article, Rejected, article_from_mapping
from searchsvc.ingest.jsonl import NOT_UTF8

TAG_PREFIX = "TAG:"
OTHER_NEWS = "Tin khác"

_TIME_FORMAT = "%I:%M %p %d/%m/%Y"  # 03:21 PM 30/11/2018, Vietnam local time
_SOURCE_MARK = re.compile(r"^\((?P<mark>[^()\n]{1,30})\)\s*[-–—]")
# A byline is a short line with no sentence-final punctuation ("Khánh Linh", "Hà Anh (theo VnExpress)").
_MAX_BYLINE = 80
_FINAL_PUNCTUATION = (".", "!", "?", "…", ":", ";")


def read_scraped_folder(folder: Path, max_chars: int) -> Iterator[tuple[str, Article | Rejected]]:
    """Yield (file path, Article or Rejected) for every *.txt page of `folder`, in name order."""
    for path in sorted(folder.glob("*.txt")):
        yield str(path), read_page(path, max_chars)


def read_page(path: Path, max_chars: int) -> Article | Rejected:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return Rejected(str(path), 0, NOT_UTF8)
    try:
        return parse_page(text, path.stem, max_chars)
    except ValueError as exc:
        return Rejected(str(path), 0, str(exc))


def parse_page(text: str, page_id: str, max_chars: int) -> Article:
    """Parse one page's text; raises ValueError naming the part of the layout that is missing."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if len(lines) < 5:
        raise ValueError("not a scraped page: fewer than 5 header lines")
    section, breadcrumb, title, when, lead = (line.strip() for line in lines[:5])
    if not section or not title:
        raise ValueError("not a scraped page: line 1 (section) or line 3 (title) is empty")
    if " / " not in breadcrumb:
        raise ValueError(f"not a scraped page: line 2 is not a breadcrumb: {breadcrumb[:60]!r}")
    published = _parse_time(when)
    tag_index = next((i for i, line in enumerate(lines) if line.startswith(TAG_PREFIX)), None)
    if tag_index is None or tag_index < 5:
        raise ValueError(f"not a scraped page: no '{TAG_PREFIX}' line after the body")
    paragraphs = _paragraphs(lines[5:tag_index])
    author = ""
    if len(paragraphs) > 1 and _is_byline(paragraphs[-1]):
        author = paragraphs.pop()
    mark = _SOURCE_MARK.match(lead)
    record = {
        "id": page_id,
        "title": title,
        "lead": lead,
        "body": "\n\n".join(paragraphs),
        "category": section,
        "tags": _tags(lines, tag_index),
        "author": author,
        "published": published,
        "source": mark.group("mark").strip() if mark else "",
    }
    return article_from_mapping(record, max_chars)


def _parse_time(when: str) -> datetime:
    try:
        return datetime.strptime(when, _TIME_FORMAT).replace(tzinfo=VIETNAM_TZ)
    except ValueError:
        expected = "a time like '03:21 PM 30/11/2018'"
        raise ValueError(f"not a scraped page: line 4 is not {expected}: {when[:40]!r}") from None


def _paragraphs(lines: list[str]) -> list[str]:
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return ["\n".join(p) for p in paragraphs if p]


def _is_byline(paragraph: str) -> bool:
    return "\n" not in paragraph and len(paragraph) <= _MAX_BYLINE and not paragraph.endswith(_FINAL_PUNCTUATION)


def _tags(lines: list[str], tag_index: int) -> str:
    """Tags follow `TAG:` on its line, or on the lines up to `Tin khác` (never past it: sidebar)."""
    parts = [lines[tag_index][len(TAG_PREFIX) :]]
    following = lines[tag_index + 1 :]
    if any(line.strip() == OTHER_NEWS for line in following):
        for line in following:
            if line.strip() == OTHER_NEWS:
                break
            parts.append(line)
    return ",".join(parts)
