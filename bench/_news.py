"""Shared by the whole-corpus checks (offsets_check.py, segment_equivalence.py): every title, lead and body
of every news corpus in ../shared/data, checked by a function that counts what it checked and says what failed."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path

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
