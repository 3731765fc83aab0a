"""The Article value: what the indexer accepts, validated once at the edge."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    lead: str = ""
    body: str = ""
    category: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    author: str = ""
    published: datetime | None = None  # always timezone-aware when set
    url: str = ""
    source: str = ""


@dataclass(frozen=True)
class Rejected:
    """A record that could not become an Article: where it was and why."""

    source: str  # file name, or "<stdin>"
    line: int  # 1-based line (JSONL) or 0 for a whole file (scraped page)
    reason: str


@dataclass(frozen=True)
class Superseded:
    """An earlier copy of an id that a later record of the same batch replaces: the last copy wins,
    because a correction feed appends the corrected article. Reported, not counted as a rejection."""

    source: str
    line: int
    id: str
    reason: str


# Vietnamese news is dated in Vietnam time; a date without a zone means midnight there, not UTC.
VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")

# C0 controls other than \n and \t: scrapers leave NULs and stray \r behind, and they poison snippets.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")

_TEXT_FIELDS = ("title", "lead", "body", "category", "author", "url", "source")


def clean_text(text: str) -> str:
    """Strip the edges and drop control characters; the text is otherwise kept exactly as written
    (no Unicode normalisation: the analyzer does that, and snippets must show the author's text)."""
    return _CONTROL.sub("", text).strip()


def _text(d: Mapping[str, Any], name: str) -> str:
    value = d.get(name)
    if value is None:  # real corpora write null for a missing lead/author/category
        return ""
    if not isinstance(value, str):
        raise ValueError(f"field '{name}' must be a string, got {type(value).__name__}")
    return clean_text(value)


def _id(d: Mapping[str, Any]) -> str:
    value = d.get("id")
    # bool is an int subclass; `"id": true` is a mistake, not an id.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None:
        raise ValueError("missing field 'id'")
    if not isinstance(value, str):
        raise ValueError(f"field 'id' must be a string or an integer, got {type(value).__name__}")
    cleaned = clean_text(value)
    if not cleaned:
        raise ValueError("field 'id' is empty")
    return cleaned


def _tags(d: Mapping[str, Any]) -> tuple[str, ...]:
    value = d.get("tags")
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError(f"field 'tags' must be a list of strings, got {type(value).__name__}")
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"field 'tags' must be a list of strings, found a {type(item).__name__}")
        tag = clean_text(item)
        if tag and tag not in tags:
            tags.append(tag)
    return tuple(tags)


def parse_published(value: object) -> datetime | None:
    """An ISO 8601 datetime or date (str) or a datetime; naive values are Vietnam time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            # 3.11's fromisoformat reads dates, "Z", offsets and fractional seconds.
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"field 'published' is not an ISO 8601 date or datetime: {value[:40]!r}") from None
    else:
        raise ValueError(f"field 'published' must be an ISO 8601 string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=VIETNAM_TZ)
    return parsed


def article_from_mapping(d: Mapping[str, Any], max_chars: int) -> Article:
    """Validate one input record (a decoded JSON object) into an Article.

    Raises ValueError with a short reason naming the field. Unknown fields are ignored, so corpora
    with extra columns (subcategory, breadcrumb, title_slug...) load as they are.
    """
    article_id = _id(d)
    if d.get("title") is None:
        raise ValueError("missing field 'title'")
    texts = {name: _text(d, name) for name in _TEXT_FIELDS}
    if not texts["title"]:
        raise ValueError("field 'title' is empty")
    if not texts["lead"] and not texts["body"]:
        raise ValueError("no text: 'lead' and 'body' are both missing or empty")
    size = len(texts["title"]) + len(texts["lead"]) + len(texts["body"])
    if size > max_chars:
        raise ValueError(f"too large: {size:,} characters of title+lead+body, limit {max_chars:,}")
    return Article(id=article_id, tags=_tags(d), published=parse_published(d.get("published")), **texts)


def article_to_mapping(article: Article) -> dict[str, Any]:
    """The JSON shape of an Article (the inverse of article_from_mapping): `published` as ISO with zone."""
    return {
        "id": article.id,
        "title": article.title,
        "lead": article.lead,
        "body": article.body,
        "category": article.category,
        "tags": list(article.tags),
        "author": article.author,
        "published": article.published.isoformat() if article.published else None,
        "url": article.url,
        "source": article.source,
    }
