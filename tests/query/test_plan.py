"""From parsed query to Whoosh queries: accent restoration, questions, the every-word tier."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from searchsvc.model.vocabulary import Vocabulary
from searchsvc.query.nodes import AndMaybe
from searchsvc.query.parse import parse
from searchsvc.query.plan import is_question, plan
from searchsvc.query.restore import query_syllables, restore
from searchsvc.search.engine import Engine


@pytest.fixture
def vocab(index_dir: Path) -> Vocabulary:
    return Engine.open(index_dir).snapshot.vocabulary


def test_restores_accents_from_the_index_vocabulary(vocab: Vocabulary) -> None:
    run = query_syllables("tre em", vocab)
    words = restore(run, vocab)
    assert run[0].candidates[0][0] == "trẻ" and run[1].candidates[0][0] == "em"
    assert any("trẻ_em" in forms for _, _, forms in words)


def test_typed_accents_are_kept_exactly(vocab: Vocabulary) -> None:
    run = query_syllables("cộng", vocab)
    restore(run, vocab)
    assert run[0].accented and run[0].candidates == [("cộng", 1.0)]


def test_telex_leftover_is_decoded_only_when_unknown(vocab: Vocabulary) -> None:
    assert [s.typed for s in query_syllables("tre3 em", vocab)] == ["trẻ", "em"]
    assert [s.typed for s in query_syllables("em", vocab)] == ["em"]


@pytest.mark.parametrize(
    ("text", "question"),
    [("Ai hát quốc ca?", True), ("giá vàng bao nhiêu", True), ("gia vang bao nhieu", True),
     ("tại sao trẻ em", True), ("giá vàng hôm nay", False), ("trẻ em vùng cao", False)],
)
def test_questions_are_recognised_with_or_without_accents(vocab: Vocabulary, text: str, question: bool) -> None:
    assert is_question(text, query_syllables(text, vocab)) is question
    assert plan(parse(text), vocab, text).question is question


def test_function_words_do_not_gate_the_every_word_tier(vocab: Vocabulary) -> None:
    strict = plan(parse("trẻ em của vùng cao"), vocab, "trẻ em của vùng cao").strict
    assert isinstance(strict, AndMaybe)
    assert "của" not in repr(strict.required) and "của" in repr(strict.optional)  # "của" only scores


def test_neighbours_outweigh_a_syllables_own_frequency(tmp_path: Path) -> None:
    from searchsvc.articles import Article
    from searchsvc.store.writer import build_index

    common = "Nhiều người đến xem, nhiều nhà mở cửa và nhiều xe đỗ lại."
    rare = "Giá vé bao nhiêu? Không ai biết bao nhiêu người đến."
    articles = [Article(id=f"c{i}", title="Lễ hội", lead="", body=common) for i in range(6)]
    articles += [Article(id=f"r{i}", title="Giá vé", lead="", body=rare) for i in range(2)]
    build_index(articles, tmp_path / "index", procs=1, quiet=True)
    vocab = Engine.open(tmp_path / "index").snapshot.vocabulary
    assert vocab.syllables["nhieu"][0][0] == "nhiều"  # by itself, the likelier reading
    for text, expected in (("bao nhieu", "nhiêu"), ("nhieu nguoi", "nhiều"), ("gia ve bao nhieu", "nhiêu")):
        run = query_syllables(text, vocab)
        restore(run, vocab)
        assert run[-1 if text.endswith("nhieu") else 0].candidates[0][0] == expected, text
    # Not adjacent in the query (a comma between): no context, the syllable's own frequency decides.
    run = query_syllables("bao, nhieu", vocab)
    restore(run, vocab)
    assert run[1].candidates[0][0] == "nhiều"


def test_a_question_is_one_whether_typed_with_accents_or_not(sample_engine: typing.Any) -> None:
    vocab = sample_engine.snapshot.vocabulary
    for typed in ("tiền đi đâu", "tien di dau", "cầu thủ nào", "cau thu nao"):  # "dau", "nao" read as restored
        assert plan(parse(typed), vocab, typed).question, typed
    assert not plan(parse("dau gia"), vocab, "dau gia").question  # đấu giá, not đâu


def test_votes_revise_the_run_they_were_taken_for(vocab: Vocabulary) -> None:
    q = '"cong doan" cong'
    first = plan(parse(q), vocab, q)
    assert [[s.folded for s in run] for run in first.runs or []] == [["cong", "doan"], ["cong"]]
    assert first.interpreted == '"công đoàn" công'
    # Runs are numbered in the order the plan restores them, as query.evidence numbers them.
    again = plan(parse(q), vocab, q, evidence={(1, 0): {"cộng": 5.0}})
    assert again.interpreted == '"công đoàn" cộng'
    assert plan(parse(q), vocab, q, verbatim=True, evidence={(1, 0): {"cộng": 5.0}}).interpreted is None


def test_a_second_plan_reuses_the_first_ones_restoration_and_comes_out_the_same(vocab: Vocabulary) -> None:
    q = "cong doan to chuc hoi nghi"
    first = plan(parse(q), vocab, q)
    assert first.restored and len(first.restored) == 1
    votes = {(0, 0): {"cộng": 5.0}}
    fresh = plan(parse(q), vocab, q, evidence=votes)
    reused = plan(parse(q), vocab, q, evidence=votes, restored=first.restored)
    assert (reused.loose, reused.strict, reused.interpreted) == (fresh.loose, fresh.strict, fresh.interpreted)
    assert reused.runs and first.runs
    assert reused.runs[0][0].posterior["cộng"] > 10 * first.runs[0][0].posterior["cộng"]
    # Revising the second plan left the first one's restoration as it was.
    assert plan(parse(q), vocab, q, restored=first.restored).loose == first.loose
