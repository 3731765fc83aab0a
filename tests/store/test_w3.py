"""searchsvc.store.w3: compact positions, one at a time and many at once."""

from __future__ import annotations

import random
from array import array

import numpy as np
import pytest

from searchsvc.store.w3 import CompactPositions, decode_many, encode_packed

Posting = tuple[int, float, bytes, int]  # document, weight, value, field length


def _reference_encode(poslist: list[int]) -> bytes:
    """The encoding as first written: count (big-endian) then native uint32 deltas."""
    deltas = array("I", [poslist[0]])
    deltas.extend(b - a for a, b in zip(poslist, poslist[1:]))
    return len(poslist).to_bytes(4, "big") + deltas.tobytes()


@pytest.mark.parametrize("poslist", [[0], [7], [0, 1, 2], [3, 10, 10_000, 70_000], list(range(0, 5000, 3))])
def test_positions_round_trip_and_keep_their_encoding(poslist: list[int]) -> None:
    fmt = CompactPositions()
    encoded = fmt.encode(poslist)
    assert encoded == _reference_encode(poslist)
    assert fmt.decode_positions(encoded) == poslist
    assert fmt.decode_frequency(encoded) == len(poslist)


def test_many_values_encode_as_one_at_a_time_and_decode_back() -> None:
    rng = random.Random(3)
    poslists = [sorted(rng.sample(range(70_000), rng.randint(1, 6))) for _ in range(500)]
    bounds = np.cumsum([0] + [len(p) for p in poslists])
    positions = np.asarray([x for p in poslists for x in p], np.int64)
    values = encode_packed(bounds, positions)
    assert values == [CompactPositions().encode(p) for p in poslists]
    got_bounds, got_positions = decode_many(values)
    assert got_bounds.tolist() == bounds.tolist() and got_positions.tolist() == positions.tolist()
