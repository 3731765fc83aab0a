"""Shared by the whole-corpus checks (offsets_check.py, segment_equivalence.py): every title, lead and body
of every news corpus in ../shared/data, checked by a function that counts what it checked and says what failed."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from searchsvc.evaluation import load_corpus

NEWS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "news"
FIELDS = ("title", "lead", "body")
Check = Callable[[str], tuple[int, list[str]]]  # text -> (units checked, failures)


def check_corpora(news: Path, limit: int | None, check: Check, unit: str, max_examples: int = 5) -> None:
    """Runs ``check`` on every field of the first ``limit`` documents of each corpus; prints a line a corpus
    with a few failing examples, and exits 1 when anything failed."""
    total_failures = 0
    for path in sorted(news.glob("*.jsonl.gz")):
        started = time.perf_counter()
        docs = units = failures = 0
        examples: list[str] = []
        for doc in islice(load_corpus(path), limit):
            docs += 1
            for name in FIELDS:
                text = doc.get(name)
                if not isinstance(text, str) or not text.strip():
                    continue
                count, found = check(text)
                units += count
                failures += len(found)
                examples += [f"{doc.get('id')}/{name}: {why}" for why in found[: max_examples - len(examples)]]
        total_failures += failures
        print(f"{path.name:<28} docs {docs:>7,}  {unit} {units:>11,}  failures {failures:>6,}  "
              f"{time.perf_counter() - started:7.1f} s")
        for example in examples:
            print(f"    {example}")
    if total_failures:
        raise SystemExit(1)


# ------------------------------------------------------------------- the real corpora as articles
# Shared by bench/scaling.py: the corpora besides baomoi, as records `searchsvc reindex` accepts.

OTHER_CORPORA = ("vietnews_test.jsonl.gz", "dantri_unc.jsonl.gz", "vnexpress_bongda.jsonl.gz")
ARTICLE_FIELDS = ("id", "title", "lead", "body", "category", "tags", "author", "published", "url", "source")
HEADLINE_WORDS = 25
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def with_headline(record: dict[str, Any]) -> dict[str, Any]:
    """The record, with a title when it has none: its body's first sentence, at most HEADLINE_WORDS words.

    Dân Trí's crawler began at the first paragraph, so 2,429 of its 2,653 records have no headline and
    `searchsvc reindex` would reject them; the first sentence is the nearest thing the page had to one."""
    if str(record.get("title") or "").strip():
        return record
    body = str(record.get("body") or "").strip()
    first = _SENTENCE_END.split(body, maxsplit=1)[0].split()
    return {**record, "title": " ".join(first[:HEADLINE_WORDS])}


def article_records(path: Path, max_chars: int = 10**9) -> Iterator[dict[str, Any]]:
    """The records of ``path`` that `searchsvc reindex` accepts, headlines filled, with only the fields it
    reads (VietNews' word-segmented copies would triple what a reindex has to read and parse)."""
    from searchsvc.articles import article_from_mapping

    for record in load_corpus(path):
        record = {k: v for k, v in with_headline(record).items() if k in ARTICLE_FIELDS}
        try:
            article_from_mapping(record, max_chars=max_chars)
        except ValueError:
            continue
        yield record
