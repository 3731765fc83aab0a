"""search.recency: the lift search and related stories share, checked against numbers."""

from __future__ import annotations

import numpy as np

from searchsvc.search.recency import lift

DAY = 86400.0
NOW = 1_700_000_000.0


def test_lift_halves_with_each_half_life() -> None:
    settings = {"RECENCY_WEIGHT": 0.1, "RECENCY_HALF_LIFE_DAYS": 365.0}
    published = np.array([NOW, NOW - 365 * DAY, NOW - 730 * DAY, 0, NOW + DAY], np.int64)
    got = lift(published, settings, now=NOW)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [1.1, 1.05, 1.025, 1.0, 1.1], rtol=1e-6)  # undated: none; future: as new


def test_no_weight_no_lift() -> None:
    got = lift(np.array([NOW, 0], np.int64), {"RECENCY_WEIGHT": 0.0, "RECENCY_HALF_LIFE_DAYS": 1.0}, now=NOW)
    assert got.tolist() == [1.0, 1.0]
