"""Every setting in one table: name, default, help. Environment variables are ``SEARCHSVC_<NAME>``.

The Flask app reads them with ``app.config.from_prefixed_env("SEARCHSVC")`` (so ``SEARCHSVC_WORKERS=4``
sets ``WORKERS``); the CLI reads the same names for its defaults. A test fails when a setting is
missing from the README's table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


def _default_index_dir() -> str:
    # The project's index/ folder when running from a checkout, else ./index.
    here = Path(__file__).resolve().parent.parent / "index"
    return str(here if here.parent.joinpath("pyproject.toml").exists() else Path.cwd() / "index")


SETTINGS: tuple[Setting, ...] = (
    Setting("INDEX_DIR", _default_index_dir(), "Index home: generations and the CURRENT pointer."),
    Setting("HOST", "127.0.0.1", "Address `searchsvc serve` binds to (loopback unless told otherwise)."),
    Setting("PORT", 8000, "Port `searchsvc serve` listens on."),
    Setting("WORKERS", 2, "gunicorn worker processes for `searchsvc serve`."),
    Setting("THREADS", 4, "Threads per gunicorn worker."),
    Setting("PROCS", os.cpu_count() or 1, "Processes a reindex uses (default: every core)."),
    Setting("CORS_ORIGINS", "", "Comma-separated site origins allowed to call the API from a browser ('*' for any)."),
    Setting("OPERATOR_TOKEN", "", "Token that enables POST/DELETE of articles over HTTP; empty disables them."),
    Setting("MAX_QUERY_CHARS", 500, "Longest accepted query text."),
    Setting("MAX_QUERY_TERMS", 64, "Most terms (words, phrases, filters) in one query."),
    Setting("MAX_PER_PAGE", 100, "Largest `per_page`."),
    Setting("MAX_RESULT_WINDOW", 1000, "Deepest result reachable by paging (page * per_page)."),
    Setting("MAX_CONTENT_LENGTH", 1_000_000, "Largest request body in bytes."),
    Setting("MAX_ARTICLE_CHARS", 1_000_000, "Largest article (title + lead + body, in characters) accepted."),
    Setting("QUERY_TIME_LIMIT", 2.0, "Seconds a search may run before it answers with partial results flagged."),
    Setting("RESULT_CACHE", 2048, "Search answers kept per worker (0 turns it off); emptied on any index change."),
    Setting("POSTINGS_CACHE_MB", 32,
            "Postings and positions of recent terms kept per worker. Segments are read decode-free from the "
            "page cache; one without flat postings (an index written before them) is decoded, and this keeps "
            "its common terms."),
    Setting("WARM_TERMS", 400,
            "Most common words read in the background when a worker opens the index (0: none), up to half "
            "the postings cache: their pages are in the page cache before queries need them."),
    Setting("RECENCY_WEIGHT", 0.1, "How much recency lifts newer articles in relevance order (0 turns it off)."),
    Setting("RECENCY_HALF_LIFE_DAYS", 365.0, "Age at which the recency lift halves."),
    Setting("RELOAD_INTERVAL", 0.0,
            "Seconds between a worker's checks for a new generation or changes (0: every request; it costs a stat)."),
)

DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}


def from_env(name: str) -> Any:
    """A setting's value from ``SEARCHSVC_<NAME>``, converted to the default's type, else the default."""
    default = DEFAULTS[name]
    raw = os.environ.get("SEARCHSVC_" + name)
    if raw is None or raw == "":
        return default
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw
