"""What search takes and gives: small typed values, and the one check of a request against the limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from searchsvc.errors import InputError

SORTS = ("relevance", "newest")


@dataclass(frozen=True)
class SearchRequest:
    q: str = ""
    tags: tuple[str, ...] = ()
    category: str | None = None
    author: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "relevance"  # or "newest"
    page: int = 1
    per_page: int = 10
    highlight: bool = True
    facets: bool = True
    recency: bool = True
    verbatim: bool = False  # as typed: no accents restored, no Telex decoded, no joined words split


def validate(req: SearchRequest, settings: Mapping[str, Any], query_terms: int = 0) -> None:
    """The request within the settings' limits, else InputError naming the parameter (the API's and the CLI's).

    ``query_terms``: the words, phrases and filters its query text parses to (``ParsedQuery.terms``).
    """
    most = int(settings["MAX_QUERY_CHARS"])
    for name, value in (("q", req.q), ("category", req.category), ("author", req.author),
                        *(("tag", t) for t in req.tags)):
        if value is not None and len(value) > most:
            raise InputError(f"parameter '{name}' is {len(value)} characters long; the limit is {most}")
    if not 1 <= req.per_page <= int(settings["MAX_PER_PAGE"]):
        raise InputError(f"parameter 'per_page' must be between 1 and {settings['MAX_PER_PAGE']}, got {req.per_page}")
    if req.page < 1:
        raise InputError(f"parameter 'page' must be 1 or more, got {req.page}")
    window = int(settings["MAX_RESULT_WINDOW"])
    if req.page * req.per_page > window:
        raise InputError(f"page {req.page} × per_page {req.per_page} goes past result {window}, the deepest "
                         "reachable by paging; narrow the query instead")
    if req.sort not in SORTS:
        raise InputError(f"parameter 'sort' must be one of {', '.join(SORTS)}, got {req.sort[:40]!r}")
    if req.date_from and req.date_to and req.date_from > req.date_to:
        raise InputError(f"parameter 'from' ({req.date_from}) is after 'to' ({req.date_to})")
    terms = query_terms + len(req.tags) + (req.category is not None) + (req.author is not None)
    if terms > int(settings["MAX_QUERY_TERMS"]):
        raise InputError(f"the query has {terms} terms; the limit is {settings['MAX_QUERY_TERMS']}")


@dataclass(frozen=True)
class Hit:
    id: str
    title: str
    url: str
    published: str | None
    category: str
    tags: list[str]
    author: str
    source: str
    score: float
    title_html: str
    snippet_html: str


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    took_ms: float
    did_you_mean: str | None
    all_words_total: int | None  # results holding every word (they come first); None for a question
    partial: bool
    page: int
    per_page: int
    interpreted_as: str | None = None  # the reading searched when it is not what was typed ("trẻ em")

    @property
    def all_words_matched(self) -> bool:
        """Every result holds every word of the query (a question's results are not sorted that way)."""
        return self.all_words_total is not None and self.all_words_total == self.total


@dataclass(frozen=True)
class RelatedHit:
    hit: Hit
    shared_tags: list[str]
    shared_terms: list[str]


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: str  # "completion" | "tag" | "article"
    id: str | None = None  # articles only
    url: str | None = None
