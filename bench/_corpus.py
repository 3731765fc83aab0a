"""Shared by bench/query_latency.py and bench/serve_load.py: the baomoi corpus with derived tags,
the seeded query mix, and the cached searchsvc index and SQLite FTS5 database built from it.

Tags. baomoi has no tags, so every article gets editor-like topic tags derived from its title alone:

1. Each of the 35,440 titles (NFC) is segmented with pyvi's ``ViTokenizer``; its *words* are the
   multi-syllable tokens (``Việt_Nam``), lowercased, with at least one letter in every syllable.
2. Words in the shared stopword lexicon (``lexicon/vietnamese-stopwords.txt``) are dropped.
3. The tag vocabulary is the 300 words found in the most titles (document frequency over all
   35,440 titles, whatever ``--limit`` is; ties by the word).
4. An article's tags are the 1–2 of its title's words in that vocabulary with the *lowest* title
   document frequency (the most distinctive), ties by the word; none when no word is in the list.
5. A tag is written as its most frequent spelling in titles with syllables joined by spaces
   ("Hà Nội", "bóng đá"; ties by the string).

The same tags go to both systems, so a tag filter selects the same articles in each.

Queries. ``make_queries(articles, n, seed)`` draws from ``random.Random(seed)``: an article, then
its title (60%) or lead, then a span of 1–5 consecutive syllables (uniform; punctuation dropped);
half the queries lose their diacritics (``searchsvc.evaluation.no_diacritics``), half are lowercased,
a fifth of those with two or more syllables are quoted as a phrase, and 15% carry a tag filter (one
of the source article's tags, else a vocabulary tag drawn at random). Duplicates are skipped.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import shutil
import sqlite3
import statistics
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchsvc.articles import Article
from searchsvc.evaluation import no_diacritics

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CORPUS = DATA / "news" / "baomoi_2017.jsonl.gz"
STOPWORDS = DATA / "lexicon" / "vietnamese-stopwords.txt"
OUT = ROOT / "bench" / "out"
TAG_VOCABULARY = 300
TAGS_PER_ARTICLE = 2
TAGGING_VERSION = 1  # bump when the tag rule changes: cached indexes are then rebuilt
_SYLLABLE = re.compile(r"\w+")
_HAS_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Query:
    q: str
    tags: tuple[str, ...] = ()

    def label(self) -> str:
        return self.q + "".join(f"  [tag:{t}]" for t in self.tags)


# ------------------------------------------------------------------------------------- the corpus


def read_records(limit: int | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` baomoi records (all when None). Split on \\n only: some contain U+2028."""
    with gzip.open(CORPUS, "rt", encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    records = [json.loads(line) for line in lines if line.strip()]
    return records[:limit] if limit else records


def _title_words(title: str, tokenize: Any) -> list[tuple[str, str]]:
    """(key, spelling) of each multi-syllable pyvi word of ``title``: key lowercased, syllables spaced."""
    words = []
    for token in tokenize(unicodedata.normalize("NFC", title)).split():
        syllables = token.split("_")
        if len(syllables) < 2 or not all(_HAS_LETTER.search(s) for s in syllables):
            continue
        spelling = " ".join(syllables)
        words.append((spelling.lower(), spelling))
    return words


def _segment_titles(records: Sequence[dict[str, Any]]) -> list[list[tuple[str, str]]]:
    cache = OUT / "baomoi_title_words.json"
    if cache.exists():
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("count") == len(records):
            return [[(k, s) for k, s in words] for words in cached["words"]]
    from pyvi import ViTokenizer

    words = [_title_words(r.get("title") or "", ViTokenizer.tokenize) for r in records]
    OUT.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"count": len(records), "words": words}, ensure_ascii=False), encoding="utf-8")
    return words


def derive_tags(records: Sequence[dict[str, Any]]) -> tuple[list[tuple[str, ...]], list[str]]:
    """Per record, its tags; and the tag vocabulary (display forms), as the module docstring says."""
    stop = {line.strip().lower() for line in STOPWORDS.read_text(encoding="utf-8").splitlines() if line.strip()}
    per_title = [[(k, s) for k, s in words if k not in stop] for words in _segment_titles(records)]
    df: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for words in per_title:
        df.update({k for k, _ in words})
        for k, s in words:
            spellings.setdefault(k, Counter())[s] += 1
    vocab = sorted(df, key=lambda k: (-df[k], k))[:TAG_VOCABULARY]
    display = {k: min(spellings[k], key=lambda s: (-spellings[k][s], s)) for k in vocab}
    tags = []
    for words in per_title:
        keys = sorted({k for k, _ in words if k in display}, key=lambda k: (df[k], k))
        tags.append(tuple(display[k] for k in keys[:TAGS_PER_ARTICLE]))
    return tags, [display[k] for k in vocab]


def load_articles(limit: int | None) -> tuple[list[Article], list[str]]:
    """The valid ones of the first ``limit`` baomoi records as Articles with derived tags, and the
    tag vocabulary.

    Tags come from all 35,440 titles, so an article's tags do not depend on ``limit``.
    """
    from searchsvc.analysis import fold_text
    from searchsvc.articles import article_from_mapping

    records = read_records()
    tags, vocab = derive_tags(records)
    # FTS5 matches tags by their lowercased spelling, searchsvc by their folded key: the same sets
    # only if no two vocabulary tags fold to one key.
    assert len({fold_text(t) for t in vocab}) == len(vocab), "two tags fold to the same key"
    articles = []
    for record, article_tags in zip(records[:limit] if limit else records, tags):
        try:
            articles.append(article_from_mapping({**record, "tags": list(article_tags)}, max_chars=10**9))
        except ValueError:
            continue  # what `searchsvc reindex` rejects (a few records have no lead and no body)
    return articles, vocab


# ------------------------------------------------------------------------------------- the queries


def make_queries(articles: Sequence[Article], vocab: Sequence[str], n: int, seed: int = 2017) -> list[Query]:
    rng = random.Random(seed)
    seen: set[Query] = set()
    out: list[Query] = []
    while len(out) < n:
        a = articles[rng.randrange(len(articles))]
        text = a.title if rng.random() < 0.6 or not a.lead else a.lead
        syllables = _SYLLABLE.findall(unicodedata.normalize("NFC", text))
        if not syllables:
            continue
        size = rng.randint(1, 5)
        start = rng.randrange(max(1, len(syllables) - size + 1))
        span = syllables[start:start + size]
        q = " ".join(span)
        if rng.random() < 0.5:
            q = no_diacritics(q)
        if rng.random() < 0.5:
            q = q.lower()
        if len(span) > 1 and rng.random() < 0.2:
            q = f'"{q}"'
        tags: tuple[str, ...] = ()
        if rng.random() < 0.15:
            tags = (rng.choice(a.tags) if a.tags else rng.choice(list(vocab)),)
        query = Query(q, tags)
        if query not in seen:
            seen.add(query)
            out.append(query)
    return out


# ------------------------------------------------------------------------------------- the indexes


def size_label(limit: int | None) -> str:
    return f"baomoi_{limit}" if limit else "baomoi_all"


def searchsvc_index(articles: Sequence[Article], limit: int | None, rebuild: bool, procs: int = 2,
                    home_dir: Path | None = None) -> Path:
    """An index home of ``articles`` under bench/out (or at ``home_dir``), built through
    ``searchsvc.store.writer.reindex`` once and reused (``rebuild`` forces a new build)."""
    from searchsvc.store.home import IndexHome
    from searchsvc.store.schema import FORMAT_VERSION, SCHEMA_VERSION
    from searchsvc.store.writer import reindex

    home_dir = home_dir or OUT / f"index_{size_label(limit)}"
    stamp = home_dir / "bench.json"
    # A schema change makes the cached index unreadable (Engine refuses it): rebuild then.
    expected = {"articles": len(articles), "tagging": TAGGING_VERSION, "schema": SCHEMA_VERSION,
                "format": FORMAT_VERSION}
    if not rebuild and stamp.exists():
        built = json.loads(stamp.read_text(encoding="utf-8"))
        if {k: built.get(k) for k in expected} == expected:
            return home_dir
    if home_dir.exists():
        shutil.rmtree(home_dir)
    home_dir.mkdir(parents=True)
    report = reindex(IndexHome(home_dir), articles, procs=procs, progress=True)
    stamp.write_text(json.dumps({**expected, "seconds": round(report.seconds, 1), "indexed": report.indexed}),
                     encoding="utf-8")
    return home_dir


def index_info(home_dir: Path) -> dict[str, Any]:
    stamp = json.loads((home_dir / "bench.json").read_text(encoding="utf-8"))
    size = sum(p.stat().st_size for p in home_dir.rglob("*") if p.is_file())
    return {"articles": stamp["articles"], "index_bytes": size, "index_seconds": stamp.get("seconds")}


def fts5_database(articles: Sequence[Article], limit: int | None, rebuild: bool) -> Path:
    """SQLite FTS5 (unicode61 remove_diacritics 2) over title/lead/body, tags in a side table."""
    path = OUT / f"fts5_{size_label(limit)}.sqlite"
    stamp = path.with_suffix(".json")
    expected = {"articles": len(articles), "tagging": TAGGING_VERSION}
    if not rebuild and path.exists() and stamp.exists() and json.loads(stamp.read_text()) == expected:
        return path
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript(
        'CREATE VIRTUAL TABLE docs USING fts5(title, lead, body, tokenize="unicode61 remove_diacritics 2");'
        "CREATE TABLE tags (tag TEXT NOT NULL, docid INTEGER NOT NULL, PRIMARY KEY (tag, docid)) WITHOUT ROWID;"
    )
    with db:
        db.executemany("INSERT INTO docs(rowid, title, lead, body) VALUES (?, ?, ?, ?)",
                       ((i, a.title, a.lead, a.body) for i, a in enumerate(articles, 1)))
        # Tags are matched case- and accent-insensitively in searchsvc; the keys here are the same
        # strings for both systems, so an exact match selects the same articles.
        db.executemany("INSERT INTO tags(tag, docid) VALUES (?, ?)",
                       ((t.lower(), i) for i, a in enumerate(articles, 1) for t in a.tags))
        db.execute("INSERT INTO docs(docs) VALUES ('optimize')")
    db.close()
    stamp.write_text(json.dumps(expected))
    return path


def fts5_match(q: str) -> str | None:
    """The FTS5 query for what a user typed: each word a quoted term, ANDed; quoted text a phrase."""
    parts = []
    for m in re.finditer(r'"([^"]*)"?|([^\s"]+)', q):
        words = _SYLLABLE.findall(m.group(1) if m.group(1) is not None else m.group(2) or "")
        if not words:
            continue
        if m.group(1) is not None:
            parts.append('"' + " ".join(words) + '"')
        else:
            parts.extend(f'"{w}"' for w in words)
    return " ".join(parts) or None


# ------------------------------------------------------------------------------------- reporting


def percentiles(ms: Sequence[float]) -> dict[str, float]:
    if not ms:
        return {"n": 0}
    ordered = sorted(ms)

    def at(p: float) -> float:
        # Nearest-rank percentile: a value that was actually observed.
        return ordered[min(len(ordered) - 1, max(0, int(-(-p * len(ordered) // 100)) - 1))]

    return {"n": len(ordered), "mean": statistics.fmean(ordered), "p50": at(50), "p95": at(95), "p99": at(99),
            "max": ordered[-1]}


def uptime() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        one, five, fifteen = f.read().split()[:3]
    return f"load average: {one}, {five}, {fifteen}"


def load1() -> float:
    with open("/proc/loadavg", encoding="ascii") as f:
        return float(f.read().split()[0])


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- other titles


class TitleTagger:
    """Tags for titles outside baomoi by the rule of ``derive_tags`` (bench/scaling.py).

    The vocabulary and its document frequencies stay baomoi's, so a baomoi title gets the tags
    ``derive_tags`` gives it and any other title the same kind: its 1-2 rarest vocabulary words.
    Segmented titles are cached in bench/out/title_words_<name>.json (``save``).
    """

    def __init__(self, name: str) -> None:
        records = read_records()
        _, vocab = derive_tags(records)
        stop = {line.strip().lower() for line in STOPWORDS.read_text(encoding="utf-8").splitlines() if line.strip()}
        self.df: Counter[str] = Counter()
        for words in _segment_titles(records):
            self.df.update({k for k, _ in words if k not in stop})
        # A display form lowercases to its key (derive_tags keys words by their lowercased spelling).
        self.display = {t.lower(): t for t in vocab}
        self.path = OUT / f"title_words_{name}.json"
        self.words: dict[str, list[list[str]]] = {}
        if self.path.exists():
            self.words = json.loads(self.path.read_text(encoding="utf-8"))

    def __call__(self, title: str) -> tuple[str, ...]:
        if title not in self.words:
            from pyvi import ViTokenizer

            self.words[title] = [list(w) for w in _title_words(title, ViTokenizer.tokenize)]
        keys = sorted({k for k, _ in self.words[title] if k in self.display}, key=lambda k: (self.df[k], k))
        return tuple(self.display[k] for k in keys[:TAGS_PER_ARTICLE])

    def save(self) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.words, ensure_ascii=False), encoding="utf-8")
