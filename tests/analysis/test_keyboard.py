"""Telex and VNI leftovers decode to Vietnamese syllables."""

from __future__ import annotations

import pytest

from searchsvc.analysis.keyboard import decode_keys


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("tre3", "trẻ"), ("trer", "trẻ"), ("Ha2", "hà"), ("Noi65", "nội"), ("ddaf", "đà"), ("nawngx", "nẵng"),
     ("dduwowngf", "đường"), ("vieetj", "việt"), ("vieejt", "việt"), ("hoaf", "hòa"), ("thuyr", "thủy")],
)
def test_decodes(typed: str, meant: str) -> None:
    assert meant in decode_keys(typed)


# (Tokens such as "u23" do decode, to "ủ": search only decodes tokens that are not indexed words.)
@pytest.mark.parametrize("word", ["em", "hello", "2024"])
def test_leaves_plain_tokens_alone(word: str) -> None:
    assert decode_keys(word) == []
