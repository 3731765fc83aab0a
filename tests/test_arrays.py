"""searchsvc.arrays: gathering many ranges of a flat array at once."""

from __future__ import annotations

import numpy as np

from searchsvc.arrays import concat_ranges


def test_concat_ranges_is_every_range_in_order_empty_ones_included() -> None:
    rng = np.random.default_rng(5)
    starts = rng.integers(0, 1000, 200)
    counts = rng.integers(0, 6, 200)
    counts[::7] = 0
    want = [i for s, c in zip(starts.tolist(), counts.tolist(), strict=True) for i in range(s, s + c)]
    got = concat_ranges(starts, counts)
    assert got.dtype == np.int64 and got.tolist() == want
    assert concat_ranges(np.zeros(0, np.int64), np.zeros(0, np.int64)).tolist() == []
    assert concat_ranges(np.array([3, 1], np.uint32), np.array([2, 2], np.uint32)).tolist() == [3, 4, 1, 2]
