"""Every setting in one typed table: name, default, bounds, help. Environment variables are ``SEARCHSVC_<NAME>``.

``load`` parses and validates the whole table once, at start: the Flask app (``create_app``) and the CLI
call the same function, so a value means the same thing to both, and a bad one is a one-line error naming
the setting before anything serves (not a 500 on every search). A test fails when a setting is missing
from docs/SETTINGS.md.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchsvc.errors import SettingsError

PREFIX = "SEARCHSVC_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any  # its type is the setting's type: str, int, float or bool
    help: str
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, raw: object) -> Any:
        """``raw`` (a string from the environment, or a value from code) as this setting's type, checked."""
        kind = type(self.default)
        try:
            value = _convert(kind, raw)
        except ValueError:
            raise SettingsError(f"{PREFIX}{self.name}={raw!r} is not {_KIND_NAMES[kind]} ({self.help})") from None
        if kind in (int, float) and not (
            (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)
        ):
            raise SettingsError(f"{PREFIX}{self.name}={raw!r} must be {self._bounds()} ({self.help})")
        return value

    def _bounds(self) -> str:
        if self.maximum is None:
            return f"at least {self.minimum:g}"
        if self.minimum is None:
            return f"at most {self.maximum:g}"
        return f"between {self.minimum:g} and {self.maximum:g}"


_KIND_NAMES = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _convert(kind: type, raw: object) -> Any:
    if kind is str:
        return str(raw)
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        value: Any = raw
    elif not isinstance(raw, str):
        raise ValueError
    elif kind is bool:
        if raw.strip().lower() not in _TRUE + _FALSE:
            raise ValueError
        value = raw.strip().lower() in _TRUE
    else:
        value = kind(raw.strip())  # int("1e6") and int("2.5") fail: a count is a whole number
    if kind is float and not math.isfinite(value):
        raise ValueError
    return value


def _default_index_dir() -> str:
    # The project's index/ folder when running from a checkout, else ./index.
    here = Path(__file__).resolve().parent.parent / "index"
    return str(here if here.parent.joinpath("pyproject.toml").exists() else Path.cwd() / "index")


SETTINGS: tuple[Setting, ...] = (
    Setting("INDEX_DIR", _default_index_dir(), "Index home: generations and the CURRENT pointer."),
    Setting("HOST", "127.0.0.1", "Address `searchsvc serve` binds to (loopback unless told otherwise)."),
    Setting("PORT", 8000, "Port `searchsvc serve` listens on.", 0, 65535),
    Setting("WORKERS", 2, "gunicorn worker processes for `searchsvc serve`.", 1),
    Setting("THREADS", 4, "Threads per gunicorn worker.", 1),
    Setting("PROCS", os.cpu_count() or 1, "Processes a reindex uses (default: every core).", 1),
    Setting("CORS_ORIGINS", "", "Comma-separated site origins allowed to call the API from a browser ('*' for any)."),
    Setting("OPERATOR_TOKEN", "", "Token that enables POST/DELETE of articles over HTTP; empty disables them."),
    Setting("MAX_QUERY_CHARS", 500, "Longest accepted query text.", 1, 800),
    Setting("MAX_QUERY_TERMS", 64, "Most terms (words, phrases, filters) in one query.", 1),
    Setting("MAX_PER_PAGE", 100, "Largest `per_page`.", 1),
    Setting("MAX_RESULT_WINDOW", 1000, "Deepest result reachable by paging (page * per_page).", 1),
    Setting("MAX_CONTENT_LENGTH", 1_000_000, "Largest request body in bytes.", 1),
    Setting("MAX_ARTICLE_CHARS", 1_000_000, "Largest article (title + lead + body, in characters) accepted.", 1),
    Setting("QUERY_TIME_LIMIT", 2.0, "Seconds a search may run before it answers with partial results flagged.", 0),
    Setting("ALL_WORDS_MIN", 10,
            "When fewer articles than this hold every word of a query, articles holding some of its words follow "
            "them (decided once per query, so totals are the same on every page).", 0),
    Setting("PRUNE", False,
            "Score only the results that can reach the page asked for (block-max bounds); false scores every "
            "match. Totals, facets and the page are the same either way (off: slower on baomoi for now)."),
    Setting("RESULT_CACHE", 2048, "Search answers kept per worker (0 turns it off); emptied on any index change.", 0),
    Setting("TERM_CACHE_MB", 96,
            "Megabytes per worker of long posting lists kept scored between searches (0 turns it off); emptied "
            "on any index change.", 0),
    Setting("WARM_TERMS", 400,
            "Most common words read in the background when a worker opens the index or a new commit (0: none, "
            "and no warm-up at all): their pages are in the page cache before queries need them. The "
            "suggestion tables (every headline) and facets are built first, in the same background pass.", 0),
    Setting("RECENCY_WEIGHT", 0.1, "How much recency lifts newer articles in relevance order (0 turns it off).", 0),
    Setting("RECENCY_HALF_LIFE_DAYS", 365.0, "Age at which the recency lift halves.", 0.001),
    Setting("RELOAD_INTERVAL", 0.0,
            "Seconds between a worker's checks for a new generation or changes "
            "(0: every request; two stats while nothing changed).",
            0),
    Setting("SHRINK_GUARD", 0.5,
            "A reindex that would publish fewer than this share of the serving generation's articles is refused "
            "unless given --allow-shrink (0 turns the guard off).", 0, 1),
    Setting("SCHEDULER", "",
            "Dask scheduler (`tcp://HOST:8786`) a reindex builds its segments on (`reindex --scheduler`; needs the "
            "cluster extra); empty: local processes."),
    Setting("SCHEDULER_TIMEOUT", 10.0, "Seconds a cluster reindex waits for its scheduler and a first worker.", 0.1),
    Setting("SCHEDULER_CHUNK_MB", 16.0,
            "Articles (pickled MB) sent to a cluster worker per task; each task ships back about one segment.", 0.01),
    Setting("ACCESS_LOG", "",
            "One JSON line per request (route, status, ms, generation): '-' for stderr, else a file path to append "
            "to; empty: off."),
    Setting("REPLICA_OF", "",
            "URL of the primary this server is a read replica of (`serve --replica-of`); empty: a primary."),
    Setting("REPLICATION_TOKEN", "",
            "Token a replica sends and a primary requires on /replication/*; empty disables replication."),
    Setting("REPLICATION_POLL_INTERVAL", 1.0, "Seconds between a replica's checks of the primary's commit.", 0.05),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every setting, typed and validated: the default, else ``SEARCHSVC_<NAME>``, else ``overrides``.

    Raises SettingsError naming the first bad setting. An empty variable means the default.
    """
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for s in SETTINGS:
        raw = env.get(PREFIX + s.name)
        out[s.name] = s.default if raw is None or raw == "" else s.parse(raw)
    for name, value in (overrides or {}).items():
        if name in BY_NAME:
            out[name] = BY_NAME[name].parse(value)
    return out
