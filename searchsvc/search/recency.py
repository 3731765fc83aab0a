"""The news recency lift, one rule for search and related stories: score × (1 + weight × 0.5^(age / half-life))."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np


def lift(published: np.ndarray, settings: Mapping[str, Any], now: float | None = None) -> np.ndarray:
    """The factor (float32, at least 1) for articles published at ``published`` (epoch seconds; 0: undated,
    no lift), from the RECENCY_WEIGHT and RECENCY_HALF_LIFE_DAYS settings."""
    weight = float(settings["RECENCY_WEIGHT"])
    if weight <= 0:
        return np.ones(len(published), np.float32)
    ts = published.astype(np.float64)
    half = float(settings["RECENCY_HALF_LIFE_DAYS"]) * 86400
    age = np.maximum(0.0, (time.time() if now is None else now) - ts)
    return (1 + np.where(ts > 0, weight * 0.5 ** (age / half), 0.0)).astype(np.float32)
