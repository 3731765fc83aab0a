"""query.nodes: plans are frozen values, comparable and hashable, so the planner can de-duplicate them."""

from __future__ import annotations

import dataclasses

import pytest

from searchsvc.query.nodes import And, AndMaybe, Or, Phrase, Term, all_of, any_of


def test_nodes_compare_and_hash_by_value() -> None:
    a = And((Term("text", "trẻ"), Phrase("text_fold", ("tre", "em"))))
    b = And((Term("text", "trẻ"), Phrase("text_fold", ("tre", "em"))))
    assert a == b and hash(a) == hash(b) and a in [b]
    assert Term("text", "trẻ") != Term("text", "trẻ", boost=2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.boost = 2.0  # type: ignore[misc]


def test_all_of_and_any_of_skip_a_single_part() -> None:
    t, u = Term("text", "a"), Term("text", "b")
    assert all_of([t]) is t and any_of([t]) is t
    assert all_of([t, u]) == And((t, u)) and any_of([t, u]) == Or((t, u))
    assert AndMaybe(t, u).required is t
