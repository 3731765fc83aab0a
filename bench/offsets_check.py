"""Check that every token's offsets slice the original text back to that token, on every news corpus.

The property (what highlighting relies on), for each field value ``text`` and token ``t`` of
``analyse(text)``, with ``piece = text[t.start:t.end]``:

* a syllable token: ``syllables(piece)`` is exactly one token, whose text equals ``t.text``;
* a word token: the syllable tokens of ``analyse(piece)`` (equivalently ``syllables(piece)``), in order,
  joined with ``_``, equal ``t.text`` — the slice holds exactly the word's syllables and nothing else.

    python bench/offsets_check.py --limit 2000
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from searchsvc.analysis import WORD_JOINER, Token, analyse, syllables

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _news import NEWS, check_corpora  # noqa: E402


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


@click.command()
@click.option("--limit", type=int, default=None, help="Documents per corpus (default: all).")
@click.option("--news", type=click.Path(exists=True, file_okay=False, path_type=Path), default=NEWS, show_default=True)
def main(limit: int | None, news: Path) -> None:
    check_corpora(news, limit, check_text, "tokens")


if __name__ == "__main__":
    main()
