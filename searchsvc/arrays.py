"""Array helpers shared by the analysis, the store and search."""

from __future__ import annotations

import numpy as np


def concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indexes ``starts[i] … starts[i] + counts[i] - 1`` of every range, concatenated (int64): one gather
    then reads many slices of a flat array (a term's postings' positions, a document's tags) without a loop."""
    starts, counts = np.asarray(starts, np.int64), np.asarray(counts, np.int64)
    return np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
