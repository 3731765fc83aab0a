"""Accent restoration over a toy bigram model built by hand: the posteriors are the smoothed forward-backward
the docstring describes, checked against a brute-force sum over every reading of the run."""

from __future__ import annotations

from collections import Counter as Tally
from collections import defaultdict
from itertools import product

import numpy as np
import pytest

from searchsvc.analysis import fold, syllables
from searchsvc.model.bigrams import Bigrams, Counter, merge
from searchsvc.model.vocabulary import Vocabulary
from searchsvc.query.restore import (
    EVIDENCE_WEIGHT,
    FORMS,
    MAX_CANDIDATES,
    MIN_SHARE,
    WORD_FORMS,
    Syllable,
    _posteriors,
    query_syllables,
    restore,
    revise,
    typed_syllable,
)

# Each sentence is a document, repeated as often as given. The counts are chosen so that:
# ``nhiều`` is commoner than ``nhiêu`` but ``bao`` is only ever followed by ``nhiêu``; ``báo`` is commoner
# than ``bao`` alone; ``tre`` is rarer than MIN_SHARE next to ``trẻ``; ``ban`` has four forms.
CORPUS = {
    "bao nhiêu người": 3,
    "bao nhiêu tiền": 2,
    "nhiều người": 8,
    "rất nhiều tiền": 4,
    "đọc báo": 6,
    "báo chí": 4,
    "trẻ em": 30,
    "tre xanh": 1,
    "bạn bè": 5,
    "bán hàng": 3,
    "bàn ghế": 2,
    "bản đồ": 1,
}
WORDS = {
    "bao_nhieu": [("bao_nhiêu", 5)],
    "nhieu_nguoi": [("nhiều_người", 8)],
    "tre_em": [("trẻ_em", 30)],
    # Five readings of one folded word (the last of a form the index lacks): WORD_FORMS of them are kept.
    "ban_be": [("bạn_bè", 5), ("bán_bè", 2), ("bàn_bè", 2), ("bản_bè", 2), ("bắn_bè", 2)],
}


def _documents() -> list[str]:
    return [sentence for sentence, n in CORPUS.items() for _ in range(n)]


def _model() -> Vocabulary:
    docs = _documents()
    # Two counters merged, as the reindex's workers are.
    counters = [Counter(), Counter()]
    for i, doc in enumerate(docs):
        counters[i % 2].add_text(doc)
    exact_df: Tally[str] = Tally()
    fold_df: Tally[str] = Tally()
    for doc in docs:
        toks = syllables(doc)
        exact_df.update({t.text for t in toks})
        fold_df.update({t.folded for t in toks})
    forms: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for form, df in exact_df.items():
        forms[fold(form)].append((form, df))
    for fs in forms.values():
        fs.sort(key=lambda f: -f[1])
    return Vocabulary(syllables=dict(forms), words=WORDS, exact_df=dict(exact_df), fold_df=dict(fold_df),
                      doc_count=len(docs), bigrams=Bigrams(merge([c.result() for c in counters])))


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return _model()


class Plain:
    """The same corpus counted by hand: syllables, adjacent pairs (one character apart), followers."""

    def __init__(self) -> None:
        self.one: Tally[str] = Tally()
        self.two: Tally[tuple[str, str]] = Tally()
        for doc in _documents():
            toks = syllables(doc)
            self.one.update(t.text for t in toks)
            self.two.update((a.text, b.text) for a, b in zip(toks, toks[1:]) if b.start - a.end == 1)
        self.total = sum(self.one.values())
        self.followers = Tally(a for a, _ in self.two)

    def prior(self, form: str) -> float:
        # Every form's count is smoothed by a half, so a form the index lacks is unlikely, not impossible.
        return (self.one[form] + 0.5) / self.total

    def follows(self, a: str, b: str) -> float:
        """Witten-Bell: P(b | a) = (count(a b) + F(a) P(b)) / (count(a) + F(a)), F(a) the distinct followers of
        ``a`` (plus one, so a syllable never seen followed backs off entirely), count(a) smoothed as above."""
        f = self.followers[a] + 1.0
        return (self.two[a, b] + f * self.prior(b)) / (self.one[a] + 0.5 + f)

    def posteriors(self, forms: list[list[str]], adjacent: list[bool]) -> list[list[float]]:
        """P(form | run) by summing every reading of the run: prior of the first form, then a transition
        per link (only the next form's prior across a link of syllables not adjacent in the query)."""
        marg = [[0.0] * len(fs) for fs in forms]
        for picks in product(*(range(len(fs)) for fs in forms)):
            reading = [forms[i][j] for i, j in enumerate(picks)]
            p = self.prior(reading[0])
            for i in range(1, len(reading)):
                p *= self.follows(reading[i - 1], reading[i]) if adjacent[i] else self.prior(reading[i])
            for i, j in enumerate(picks):
                marg[i][j] += p
        return [[m / sum(row) for m in row] for row in marg]


def _forms(run: list[Syllable], vocab: Vocabulary) -> list[list[str]]:
    return [[s.typed] if s.accented else [f for f, _ in vocab.syllables.get(s.folded, [])[:FORMS]] or [s.typed]
            for s in run]


def _adjacent(run: list[Syllable]) -> list[bool]:
    return [False] + [b.start - a.end == 1 for a, b in zip(run, run[1:])]


def _shares(text: str, vocab: Vocabulary) -> list[dict[str, float]]:
    run = query_syllables(text, vocab)
    return [dict(zip(fs, p.tolist())) for fs, p in zip(_forms(run, vocab), _posteriors(run, _forms(run, vocab), vocab))]


def test_the_toy_table_counts_what_a_plain_count_gives(vocab: Vocabulary) -> None:
    plain = Plain()
    model = vocab.bigrams
    assert model is not None
    forms = sorted(plain.one)
    counts, distinct_followers = model.unigrams(forms)
    assert counts.tolist() == [plain.one[f] for f in forms]
    assert model.total == plain.total
    assert distinct_followers.tolist() == [plain.followers[f] for f in forms]
    assert model.pair_counts(["bao", "nhiều"], ["nhiêu", "người"]).tolist() == [[5, 0], [0, 8]]
    assert vocab.syllables["nhieu"] == [("nhiều", 12), ("nhiêu", 5)]  # the vocabulary the test built


@pytest.mark.parametrize("text", ["bao nhieu", "nhieu nguoi", "ban be", "bao nhieu nguoi", "rat nhieu tien",
                                  "bao nhieu, nguoi", "ban bè ghe"])
def test_posteriors_are_the_smoothed_forward_backward(vocab: Vocabulary, text: str) -> None:
    run = query_syllables(text, vocab)
    assert len(run) in (2, 3)
    forms = _forms(run, vocab)
    got = _posteriors(run, forms, vocab)
    expected = Plain().posteriors(forms, _adjacent(run))
    assert [len(p) for p in got] == [len(fs) for fs in forms]
    for g, e in zip(got, expected):
        assert g.tolist() == pytest.approx(e, abs=1e-9, rel=0)
        assert float(g.sum()) == pytest.approx(1.0, abs=1e-12)


def test_neighbours_decide_against_the_syllables_own_frequency(vocab: Vocabulary) -> None:
    alone = _shares("nhieu", vocab)[0]
    assert alone["nhiều"] > alone["nhiêu"]  # commoner on its own
    assert _shares("bao nhieu", vocab)[1]["nhiêu"] > 0.9  # but "bao" is followed by "nhiêu"
    assert _shares("rat nhieu", vocab)[1]["nhiều"] > 0.9  # and "rất" by "nhiều"
    # The evidence flows both ways along the run: "nguoi" after "nhieu" is read through it.
    three = _shares("bao nhieu nguoi", vocab)
    assert three[1]["nhiêu"] > three[1]["nhiều"]


def test_accented_syllables_are_fixed_and_inform_their_neighbours(vocab: Vocabulary) -> None:
    assert _shares("bao", vocab)[0]["báo"] > 0.6  # alone, the commoner form
    run = query_syllables("bao nhiêu", vocab)
    assert [s.accented for s in run] == [False, True]
    words = restore(run, vocab)
    assert run[1].candidates == [("nhiêu", 1.0)]
    assert run[0].candidates[0][0] == "bao" and run[0].candidates[0][1] > 0.9  # read through "nhiêu"
    assert words == [(0, 2, ["bao_nhiêu"])]
    # A typed form stays what was typed, however unlikely in context.
    run = query_syllables("báo nhieu", vocab)
    restore(run, vocab)
    assert run[0].candidates == [("báo", 1.0)]
    assert _shares("báo nhieu", vocab)[1]["nhiều"] > _shares("bao nhieu", vocab)[1]["nhiều"]


@pytest.mark.parametrize("text", ["bao, nhieu", "bao  nhieu", "bao - nhieu"])
def test_syllables_not_one_character_apart_use_only_each_forms_prior(vocab: Vocabulary, text: str) -> None:
    run = query_syllables(text, vocab)
    assert _adjacent(run) == [False, False]
    apart = _shares(text, vocab)
    plain = Plain()
    for shares, alone in zip(apart, (_shares("bao", vocab)[0], _shares("nhieu", vocab)[0])):
        assert shares == pytest.approx(alone, abs=1e-12)
        total = sum(plain.prior(f) for f in shares)
        assert shares == pytest.approx({f: plain.prior(f) / total for f in shares}, abs=1e-12)
    assert apart[1]["nhiều"] > 0.5 > _shares("bao nhieu", vocab)[1]["nhiều"]


def test_candidates_are_cut_at_max_candidates_and_min_share(vocab: Vocabulary) -> None:
    assert MAX_CANDIDATES == 2 and MIN_SHARE == 0.05  # what the cases below were chosen for
    ban = _shares("ban", vocab)[0]
    assert sorted(ban, key=lambda f: -ban[f]) == ["bạn", "bán", "bàn", "bản"]
    assert ban["bàn"] >= MIN_SHARE  # cut by the count only
    run = query_syllables("ban", vocab)
    restore(run, vocab)
    assert run[0].candidates == [("bạn", pytest.approx(ban["bạn"], abs=1e-12)),
                                 ("bán", pytest.approx(ban["bán"], abs=1e-12))]

    tre = _shares("tre", vocab)[0]
    assert 0 < tre["tre"] < MIN_SHARE  # second of two, but too unlikely
    run = query_syllables("tre", vocab)
    restore(run, vocab)
    assert run[0].candidates == [("trẻ", pytest.approx(tre["trẻ"], abs=1e-12))]

    # In "tre xanh" the context turns it round: the rare form is kept, the common one cut.
    run = query_syllables("tre xanh", vocab)
    restore(run, vocab)
    in_context = _shares("tre xanh", vocab)[0]
    assert 0 < in_context["trẻ"] < MIN_SHARE
    assert run[0].candidates == [("tre", pytest.approx(in_context["tre"], abs=1e-12))]

    # A syllable the index lacks has no exact form to weigh: the folded match alone serves it.
    run = query_syllables("xyzq", vocab)
    restore(run, vocab)
    assert run[0].candidates == []


def test_votes_from_the_documents_revise_an_unsure_reading_and_hardly_a_sure_one(vocab: Vocabulary) -> None:
    run = query_syllables("ban tre", vocab)
    restore(run, vocab)
    ban, tre = run
    before = dict(ban.posterior)
    assert max(before, key=before.__getitem__) == "bạn" and before["bàn"] < 0.5
    revise(ban, {"bàn": 1.0}, vocab)
    # The model's share times one plus the votes, normalised: one headline holding the run turns it round.
    odds = before["bàn"] * (1 + EVIDENCE_WEIGHT) / before["bạn"]
    assert ban.posterior["bàn"] / ban.posterior["bạn"] == pytest.approx(odds)
    assert ban.candidates[0][0] == "bàn" and sum(ban.posterior.values()) == pytest.approx(1.0)

    assert tre.posterior["trẻ"] > 0.9
    revise(tre, {"tre": 1.0}, vocab)
    assert tre.candidates[0][0] == "trẻ"

    # A form the model did not weigh (not among its FORMS) still counts, from a small floor.
    run = query_syllables("ban", vocab)
    restore(run, vocab)
    revise(run[0], {"bắn": 3.0}, vocab)
    assert 0 < run[0].posterior["bắn"] < run[0].posterior["bạn"]

    # No votes, or a syllable typed with accents: nothing changes.
    accented = query_syllables("bàn", vocab)
    restore(accented, vocab)
    revise(accented[0], {"bạn": 5.0}, vocab)
    assert accented[0].candidates == [("bàn", 1.0)]
    run = query_syllables("ban", vocab)
    restore(run, vocab)
    kept = list(run[0].candidates)
    revise(run[0], {}, vocab)
    assert run[0].candidates == kept


def test_pyvi_word_readings_consistent_with_the_typed_accents(vocab: Vocabulary) -> None:
    assert restore(query_syllables("tre em", vocab), vocab) == [(0, 2, ["trẻ_em"])]
    assert restore(query_syllables("bao nhieu nguoi", vocab), vocab) == [
        (0, 2, ["bao_nhiêu"]), (1, 3, ["nhiều_người"])]
    # "nhiêu" typed rules out the reading "nhiều_người" of the second pair.
    assert restore(query_syllables("bao nhiêu nguoi", vocab), vocab) == [(0, 2, ["bao_nhiêu"])]
    # The likeliest WORD_FORMS readings, likeliest first; a reading of forms the model never saw comes last
    # and is the one cut.
    assert WORD_FORMS == 4
    assert restore(query_syllables("ban be", vocab), vocab) == [(0, 2, ["bạn_bè", "bán_bè", "bàn_bè", "bản_bè"])]
    assert restore(query_syllables("bán be", vocab), vocab) == [(0, 2, ["bán_bè"])]
    assert restore(query_syllables("xanh tre", vocab), vocab) == []  # no such word


def test_keyboard_leftovers_are_decoded_when_the_raw_token_is_unknown(vocab: Vocabulary) -> None:
    for typed in ("tre3", "trer"):  # VNI and Telex
        (tok,) = syllables(typed)
        s = typed_syllable(tok, vocab)
        assert (s.typed, s.folded, s.accented, s.start, s.end) == ("trẻ", "tre", True, 0, len(typed))
    run = query_syllables("tre3 em", vocab)
    assert [(s.typed, s.accented) for s in run] == [("trẻ", True), ("em", False)]
    assert restore(run, vocab) == [(0, 2, ["trẻ_em"])]
    assert run[0].candidates == [("trẻ", 1.0)]
    # Not decoded when the decoded form is not indexed ...
    lacking = Vocabulary(vocab.syllables, vocab.words, {k: v for k, v in vocab.exact_df.items() if k != "trẻ"},
                         vocab.fold_df, vocab.doc_count, vocab.bigrams)
    (tok,) = syllables("tre3")
    assert typed_syllable(tok, lacking).typed == "tre3"
    # ... nor when the raw token is (a word of the index, or its folded form).
    for known in (Vocabulary(exact_df={**vocab.exact_df, "tre3": 1}, fold_df=vocab.fold_df),
                  Vocabulary(exact_df=vocab.exact_df, fold_df={**vocab.fold_df, "tre3": 1})):
        s = typed_syllable(tok, known)
        assert (s.typed, s.accented) == ("tre3", False)
    (tok,) = syllables("tre")
    assert typed_syllable(tok, vocab).typed == "tre"  # an indexed syllable is left as typed


def test_empty_run(vocab: Vocabulary) -> None:
    assert _posteriors([], [], vocab) == []
    assert restore([], vocab) == []
    assert np.isclose(sum(_shares("em", vocab)[0].values()), 1.0)


def test_a_lowercase_token_the_index_holds_is_decoded_when_its_decoding_is_far_commoner() -> None:
    from searchsvc.analysis import syllables
    from searchsvc.model.vocabulary import Vocabulary
    from searchsvc.query.restore import DECODE_RATIO, query_syllables

    v = Vocabulary(syllables={"khong": [("không", 900)], "khoong": [("khoong", 2)], "max": [("max", 50)],
                              "ma": [("mã", 400)]},
                   exact_df={"không": 900, "khoong": 2, "max": 50, "mã": 400},
                   fold_df={"khong": 900, "khoong": 2, "max": 50, "ma": 400}, doc_count=1000)
    assert [(s.typed, s.decoded) for s in query_syllables("khoong", v)] == [("không", True)]
    assert [s.typed for s in query_syllables("Khoong Max", v)] == ["khoong", "max"]  # capitals: names kept
    assert [s.typed for s in query_syllables("max", v)] == ["mã"]  # 400 > 3 × 50
    rare = Vocabulary(syllables=v.syllables, exact_df={**v.exact_df, "mã": DECODE_RATIO * 50},
                      fold_df=v.fold_df, doc_count=1000)
    assert [s.typed for s in query_syllables("max", rare)] == ["max"]  # not commoner enough
    assert [s.typed for s in query_syllables("max", v, decode=False)] == ["max"]
    assert syllables("max")[0].text == "max"
