"""Check that ``pyvi_words`` is exactly pyvi's segmentation, and ``word_spans`` slice to its words, on whole corpora.

tests/test_segment.py checks the same two properties on the packaged sample; this runs them on every
news corpus in ../shared/data (pyvi's CRF is the cost: the whole of baomoi takes a long while, hence
``--limit``). For each title, lead and body (NFC, without ``_``, which pyvi's output could not tell
apart from its joiner):

* ``pyvi_words(text) == ViTokenizer.tokenize(text).split(" ")``;
* each span of ``word_spans(text)`` slices to one multi-syllable word, spaces aside, with its syllable count.

    python bench/segment_equivalence.py --limit 2000
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import click
from pyvi import ViTokenizer

from searchsvc.analysis.segment import pyvi_words, word_spans
from searchsvc.evaluation import load_corpus

NEWS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "news"
FIELDS = ("title", "lead", "body")


@dataclass
class Tally:
    docs: int = 0
    texts: int = 0
    failures: int = 0
    examples: list[str] = field(default_factory=list)


def text_failure(text: str) -> str | None:
    """Why ``text`` breaks either property, or None when it holds both."""
    ours, theirs = pyvi_words(text), ViTokenizer.tokenize(text).split(" ")
    if ours != theirs:
        first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
        return f"words differ at {first}: ours {ours[first:first + 3]!r}, pyvi {theirs[first:first + 3]!r}"
    glued = [w for w in ours if "_" in w]
    spans = word_spans(text)
    if len(spans) != len(glued):
        return f"{len(spans)} spans for {len(glued)} multi-syllable words"
    for (start, end, n), word in zip(spans, glued):
        piece = text[start:end]
        if "".join(piece.split()) != word.replace("_", "") or n != word.count("_") + 1 or piece != piece.strip():
            return f"span {piece!r} ({n} syllables) for word {word!r}"
    return None


def check_corpus(path: Path, limit: int | None, chars: int | None, max_examples: int = 5) -> Tally:
    tally = Tally()
    for doc in islice(load_corpus(path), limit):
        tally.docs += 1
        for name in FIELDS:
            value = doc.get(name)
            if not isinstance(value, str) or not value.strip() or "_" in value:
                continue
            text = unicodedata.normalize("NFC", value[:chars])
            tally.texts += 1
            why = text_failure(text)
            if why is not None:
                tally.failures += 1
                if len(tally.examples) < max_examples:
                    tally.examples.append(f"{doc.get('id')}/{name}: {why}")
    return tally


@click.command()
@click.option("--limit", type=int, default=None, help="Documents per corpus (default: all).")
@click.option("--chars", type=int, default=None, help="Check only this prefix of each field (default: all of it).")
@click.option("--news", type=click.Path(exists=True, file_okay=False, path_type=Path), default=NEWS, show_default=True)
def main(limit: int | None, chars: int | None, news: Path) -> None:
    total_failures = 0
    for path in sorted(news.glob("*.jsonl.gz")):
        started = time.perf_counter()
        tally = check_corpus(path, limit, chars)
        seconds = time.perf_counter() - started
        total_failures += tally.failures
        print(
            f"{path.name:<28} docs {tally.docs:>7,}  texts {tally.texts:>8,}  failures {tally.failures:>6,}  "
            f"{seconds:7.1f} s"
        )
        for example in tally.examples:
            print(f"    {example}")
    if total_failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
