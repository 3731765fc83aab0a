"""query.joined: tokens typed as one (``hanoi``) split into the index's syllables by its own bigram table."""

from __future__ import annotations

from typing import Any

import pytest

from searchsvc.query.joined import MIN_PAIRS, RATIO, expand, split
from searchsvc.query.restore import query_syllables


@pytest.fixture(scope="module")
def vocab(sample_engine: Any) -> Any:
    return sample_engine.snapshot.vocabulary


@pytest.mark.parametrize("token, parts", [
    ("hanoi", ["ha", "noi"]), ("bongda", ["bong", "da"]), ("vietnam", ["viet", "nam"]),
    ("treem", ["tre", "em"]), ("hochiminh", ["ho", "chi", "minh"]),
])
def test_joined_tokens_split_into_the_pairs_the_index_holds(vocab: Any, token: str, parts: list[str]) -> None:
    assert split(token, vocab) == parts


@pytest.mark.parametrize("token", ["ronaldo", "trong", "nguoi", "thanh", "ab", "hà nội", "h4noi", "xyzqwv"])
def test_words_and_non_words_stay_whole(vocab: Any, token: str) -> None:
    assert split(token, vocab) is None


def test_a_token_commoner_than_its_split_stays_whole(vocab: Any) -> None:
    # The rule itself: the weakest pair must beat the token's own document frequency RATIO times over.
    parts = split("hanoi", vocab)
    assert parts is not None
    pair = vocab.bigrams.pair_counts([f for f, _ in vocab.syllables["ha"][:4]],
                                     [f for f, _ in vocab.syllables["noi"][:4]]).sum()
    assert pair >= MIN_PAIRS
    vocab_with_token = type(vocab)(**{**vocab.__dict__, "fold_df": {**vocab.fold_df, "hanoi": int(pair / RATIO) + 1}})
    assert split("hanoi", vocab_with_token) is None


def test_parts_sit_next_to_each_other_at_the_tokens_offsets(vocab: Any) -> None:
    run = query_syllables("xem hanoi", vocab)
    (first, none), (joined, parts) = expand(run, vocab)
    assert none == [] and first.typed == "xem"
    assert [(p.folded, p.start, p.end) for p in parts] == [("ha", 4, 6), ("noi", 6, 9)]
    assert not any(p.accented for p in parts)


def test_a_telex_leftover_is_one_syllable_not_a_split(vocab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import searchsvc.query.joined as joined

    # "Coong" in a few documents: capitalised, it is not decoded (names keep their spelling), and even where
    # the bigram table would split it ("co ong"), a token that reads as a Telex syllable stays whole.
    held = type(vocab)(**{**vocab.__dict__, "fold_df": {**vocab.fold_df, "coong": 1},
                          "exact_df": {**vocab.exact_df, "coong": 1}})
    monkeypatch.setattr(joined, "split", lambda token, v: [token[:2], token[2:]])
    (s, parts), = expand(query_syllables("Coong", held), held)
    assert parts == [] and s.typed == "coong"
    (_, parts), = expand(query_syllables("hanoi", held), held)
    assert [p.folded for p in parts] == ["ha", "noi"]
