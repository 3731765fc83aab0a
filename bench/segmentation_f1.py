"""Word-segmentation F1 on UD Vietnamese-VTB (test): pyvi alone against searchsvc's analyzer.

The segmenter reads each gold line with ``_`` replaced by spaces. Words are compared as character spans
in that text (micro-averaged precision/recall over all sentences). Punctuation: our analyzer emits no
punctuation tokens, so tokens without a letter or digit are dropped from gold and from pyvi alike (the
main figure); pyvi's score *with* punctuation is printed too, for comparison with published figures.

    python bench/segmentation_f1.py
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import click
from pyvi import ViTokenizer

from searchsvc.analysis import analyse

GOLD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "eval" / "ud_vi_vtb" / "vi_vtb-ud-test.seg.txt"
_ALNUM = re.compile(r"[^\W_]")

Span = tuple[int, int]


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float


def gold_spans(line: str) -> tuple[str, list[tuple[Span, str]]]:
    """The segmenter's input (``_`` → space) and each gold word's span with its surface form."""
    text = line.replace("_", " ")
    spans: list[tuple[Span, str]] = []
    pos = 0
    for word in line.split(" "):
        if word:
            spans.append(((pos, pos + len(word)), word))
        pos += len(word) + 1
    return text, spans


def pyvi_spans(text: str) -> list[tuple[Span, str]]:
    """pyvi's words located in ``text``: its output gives pieces in order, found left to right."""
    spans: list[tuple[Span, str]] = []
    pos = 0
    for word in ViTokenizer.tokenize(text).split(" "):
        start = end = -1
        for piece in word.split("_"):
            at = text.find(piece, pos)
            if at < 0:
                raise ValueError(f"pyvi piece {piece!r} not found in {text!r}")
            start = at if start < 0 else start
            end = pos = at + len(piece)
        spans.append(((start, end), word))
    return spans


def our_spans(text: str) -> list[tuple[Span, str]]:
    """Each word token's span, plus every syllable no word covers as a one-syllable word."""
    tokens = analyse(text)
    words = [t for t in tokens if t.is_word]
    covered = {i for w in words for i in range(w.start, w.end)}
    spans = [((w.start, w.end), w.text) for w in words]
    spans += [((t.start, t.end), t.text) for t in tokens if not t.is_word and t.start not in covered]
    return sorted(spans)


def _has_alnum(word: str) -> bool:
    return _ALNUM.search(word) is not None


def score(pairs: list[tuple[set[Span], set[Span]]]) -> Score:
    """Micro-averaged span precision, recall and F1 over (predicted, gold) sentence pairs."""
    tp = sum(len(pred & gold) for pred, gold in pairs)
    n_pred = sum(len(pred) for pred, _ in pairs)
    n_gold = sum(len(gold) for _, gold in pairs)
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return Score(p, r, 2 * p * r / (p + r) if p + r else 0.0)


@click.command()
@click.option("--gold", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=GOLD, show_default=True)
def main(gold: Path) -> None:
    lines = [ln for ln in gold.read_text(encoding="utf-8").split("\n") if ln.strip()]
    pyvi_pairs, pyvi_punct_pairs, our_pairs = [], [], []
    pyvi_s = ours_s = 0.0
    for line in lines:
        text, gold_words = gold_spans(line)
        gold_all = {s for s, _ in gold_words}
        gold_alnum = {s for s, w in gold_words if _has_alnum(w)}
        started = time.perf_counter()
        pw = pyvi_spans(text)
        pyvi_s += time.perf_counter() - started
        started = time.perf_counter()
        ow = our_spans(text)
        ours_s += time.perf_counter() - started
        pyvi_pairs.append(({s for s, w in pw if _has_alnum(w)}, gold_alnum))
        pyvi_punct_pairs.append(({s for s, _ in pw}, gold_all))
        our_pairs.append(({s for s, w in ow if _has_alnum(w)}, gold_alnum))
    print(f"{len(lines)} sentences from {gold.name}; punctuation tokens excluded from gold and predictions")
    for name, pairs, seconds in (("pyvi ViTokenizer", pyvi_pairs, pyvi_s), ("searchsvc analyse", our_pairs, ours_s)):
        s = score(pairs)
        print(f"{name:<18} P {s.precision:.4f}  R {s.recall:.4f}  F1 {s.f1:.4f}  ({seconds:.2f} s)")
    s = score(pyvi_punct_pairs)
    print(f"{'pyvi, with punct.':<18} P {s.precision:.4f}  R {s.recall:.4f}  F1 {s.f1:.4f}")


if __name__ == "__main__":
    main()
