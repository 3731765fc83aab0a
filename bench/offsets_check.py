"""Check that every token's offsets slice the original text back to that token, on every news corpus.

The property (what highlighting relies on), for each field value ``text`` and token ``t`` of
``analyse(text)``, with ``piece = text[t.start:t.end]``:

* a syllable token: ``syllables(piece)`` is exactly one token, whose text equals ``t.text``;
* a word token: the syllable tokens of ``analyse(piece)`` (equivalently ``syllables(piece)``), in order,
  joined with ``_``, equal ``t.text`` — the slice holds exactly the word's syllables and nothing else.

    python bench/offsets_check.py --limit 2000
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import click

from searchsvc.analysis import WORD_JOINER, Token, analyse, syllables
from searchsvc.evaluation import load_corpus

NEWS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "news"
FIELDS = ("title", "lead", "body")


@dataclass
class Tally:
    docs: int = 0
    tokens: int = 0
    failures: int = 0
    examples: list[str] = field(default_factory=list)


def token_failure(text: str, tok: Token) -> str | None:
    """Why ``tok`` does not survive slice-and-reanalyse, or None when it does."""
    piece = text[tok.start : tok.end]
    again = [t.text for t in syllables(piece)]
    if tok.is_word:
        if WORD_JOINER.join(again) != tok.text:
            return f"word {tok.text!r} sliced to {piece!r} reanalyses to {again!r}"
    elif again != [tok.text]:
        return f"syllable {tok.text!r} sliced to {piece!r} reanalyses to {again!r}"
    return None


def check_text(text: str) -> tuple[int, list[str]]:
    """Number of tokens checked in ``text``, and the failures."""
    tokens = analyse(text)
    return len(tokens), [why for tok in tokens if (why := token_failure(text, tok)) is not None]


def check_corpus(path: Path, limit: int | None, max_examples: int = 5) -> Tally:
    tally = Tally()
    for doc in islice(load_corpus(path), limit):
        tally.docs += 1
        for name in FIELDS:
            text = doc.get(name)
            if not isinstance(text, str) or not text:
                continue
            count, found = check_text(text)
            tally.tokens += count
            tally.failures += len(found)
            room = max_examples - len(tally.examples)
            tally.examples += [f"{doc.get('id')}/{name}: {why}" for why in found[:room]]
    return tally


@click.command()
@click.option("--limit", type=int, default=None, help="Documents per corpus (default: all).")
@click.option("--news", type=click.Path(exists=True, file_okay=False, path_type=Path), default=NEWS, show_default=True)
def main(limit: int | None, news: Path) -> None:
    total_failures = 0
    for path in sorted(news.glob("*.jsonl.gz")):
        started = time.perf_counter()
        tally = check_corpus(path, limit)
        seconds = time.perf_counter() - started
        total_failures += tally.failures
        print(
            f"{path.name:<28} docs {tally.docs:>7,}  tokens {tally.tokens:>11,}  failures {tally.failures:>6,}  "
            f"{seconds:7.1f} s"
        )
        for example in tally.examples:
            print(f"    {example}")
    if total_failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
