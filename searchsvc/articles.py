"""The Article value: what the indexer accepts, validated once at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
