"""Check that ``pyvi_words`` is exactly pyvi's segmentation, and ``word_spans`` slice to its words, on whole corpora.

tests/analysis/test_segment.py checks the same two properties on the packaged sample; this runs them on every
news corpus in ../shared/data (pyvi's CRF is the cost: the whole of baomoi takes a long while, hence
``--limit``). For each title, lead and body (NFC, without ``_``, which pyvi's output could not tell
apart from its joiner):

* ``pyvi_words(text) == ViTokenizer.tokenize(text).split(" ")``;
* each span of ``word_spans(text)`` slices to one multi-syllable word, spaces aside, with its syllable count.

    python bench/segment_equivalence.py --limit 2000
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import click
from pyvi import ViTokenizer

from searchsvc.analysis.segment import pyvi_words, word_spans

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _news import NEWS, check_corpora  # noqa: E402


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


@click.command()
@click.option("--limit", type=int, default=None, help="Documents per corpus (default: all).")
@click.option("--chars", type=int, default=None, help="Check only this prefix of each field (default: all of it).")
@click.option("--news", type=click.Path(exists=True, file_okay=False, path_type=Path), default=NEWS, show_default=True)
def main(limit: int | None, chars: int | None, news: Path) -> None:
    def check(value: str) -> tuple[int, list[str]]:
        if "_" in value:  # pyvi's output could not tell it from its joiner
            return 0, []
        why = text_failure(unicodedata.normalize("NFC", value[:chars]))
        return 1, [why] if why else []

    check_corpora(news, limit, check, "texts")


if __name__ == "__main__":
    main()
