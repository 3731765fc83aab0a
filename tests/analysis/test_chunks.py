"""searchsvc.analysis.chunks: a text's tokens are its chunks' tokens, moved by each chunk's offset.

The cache of per-chunk analysis is exact only if neither tokenizer can match across whitespace: checked on
arbitrary text for pyvi's syllabifier and for our syllable pattern.
"""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from searchsvc.analysis import SYLLABLE
from searchsvc.analysis.chunks import Columns, split
from searchsvc.analysis.segment import _PYVI_TOKEN

_ALPHABET = "aăâđeêơưAĐZ09 .,:/@_-+=>\n\t\u00a0\u2028\u0301\u0323()'\"…" + "tp.Mr.ThS.http://x.vn"
arbitrary = st.text(alphabet=st.sampled_from(_ALPHABET), max_size=80)


def _by_chunks(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    chunks, offsets = split(text)
    return [(at + m.start(), at + m.end()) for chunk, at in zip(chunks, offsets.tolist())
            for m in pattern.finditer(chunk)]


@settings(max_examples=400, deadline=None)
@given(arbitrary)
def test_pyvi_tokens_of_the_chunks_are_the_tokens_of_the_text(text: str) -> None:
    assert _by_chunks(_PYVI_TOKEN, text) == [m.span() for m in _PYVI_TOKEN.finditer(text)]


@settings(max_examples=400, deadline=None)
@given(arbitrary)
def test_syllables_of_the_chunks_are_the_syllables_of_the_text(text: str) -> None:
    assert _by_chunks(SYLLABLE, text) == [m.span() for m in SYLLABLE.finditer(text)]


def test_split_gives_chunks_with_their_offsets_and_newlines_alone() -> None:
    text = "  Hà Nội,\n\nngày 1.2  "
    chunks, offsets = split(text)
    assert chunks == ["Hà", "Nội,", "\n", "\n", "ngày", "1.2"]
    assert [text[o : o + len(c)] for c, o in zip(chunks, offsets.tolist())] == chunks
    empty, no_offsets = split("")
    assert empty == [] and no_offsets.tolist() == []


def test_gather_concatenates_the_items_of_chunks_in_order() -> None:
    table = Columns(("value",))
    for chunk, values in (("a", [1, 2]), ("b", []), ("c", [3])):
        table.columns["value"].extend(values)
        assert table.finish_chunk(chunk) == len(table) - 1
    got, at = table.gather([2, 0, 1, 0], np.array([100, 200, 300, 400]))
    assert got["value"].tolist() == [3, 1, 2, 1, 2]
    assert at.tolist() == [100, 200, 200, 400, 400]
    table.columns["value"].append(9)  # no view of the columns outlives gather: they can still grow
    table.finish_chunk("d")
    assert table.gather([3], np.array([0]))[0]["value"].tolist() == [9]
