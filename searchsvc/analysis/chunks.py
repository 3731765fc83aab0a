"""Text as whitespace-free chunks, so that each distinct chunk is analysed once per process.

Neither pyvi's syllabifier nor our syllable pattern can match whitespace (pyvi's ``\\n`` token aside, which
is a chunk of its own here), and neither uses anchors or lookaround: the matches in a text are exactly the
matches in each of its chunks, moved by the chunk's offset. News repeats its words, so a chunk's tokens are
worked out once and every later text only looks its chunks up. Per-chunk results live in flat columns
(``Columns``) so that a text's tokens are gathered with numpy, not a Python loop.
"""

from __future__ import annotations

import re
from array import array

import numpy as np

from searchsvc.arrays import concat_ranges

# re.split with one group alternates: whitespace, chunk, whitespace, ..., whitespace.
_SPLIT = re.compile(r"(\S+|\n)")


def split(text: str) -> tuple[list[str], np.ndarray]:
    """The chunks of ``text`` and their start offsets."""
    parts = _SPLIT.split(text)
    ends = np.cumsum(np.fromiter(map(len, parts), np.int64, len(parts)))
    return parts[1::2], ends[0:-1:2]


class Columns:
    """Items (tokens) of every chunk seen, as flat int32 columns; chunk ``k`` holds items
    ``bounds[k]:bounds[k + 1]``. Offsets in the columns are relative to the chunk."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.ids: dict[str, int] = {}
        self.bounds = array("q", [0])
        self.columns = {name: array("i") for name in names}

    def __len__(self) -> int:
        return len(self.ids)

    def finish_chunk(self, chunk: str) -> int:
        """Records that the items appended since the last chunk belong to ``chunk``; returns its id."""
        k = self.ids[chunk] = len(self.ids)
        self.bounds.append(len(next(iter(self.columns.values()))))
        return k

    def gather(self, ks: list[int], offsets: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The items of chunks ``ks`` in order (each column as a new array), and each item's chunk offset."""
        k = np.asarray(ks, np.int64)
        bounds = np.frombuffer(self.bounds, np.int64)
        lo = bounds[k]
        counts = bounds[k + 1] - lo
        del bounds  # a live view would stop the array from growing
        index = concat_ranges(lo, counts)
        out = {}
        for name, column in self.columns.items():
            view = np.frombuffer(column, np.int32)
            out[name] = view[index].astype(np.int64)
            del view
        return out, np.repeat(offsets, counts)
