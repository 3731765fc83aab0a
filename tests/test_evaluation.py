"""Metrics, loaders and query forms of searchsvc.evaluation, against values computed by hand."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from searchsvc.evaluation import (
    Metrics,
    Query,
    load_corpus,
    load_qrels,
    load_queries,
    mrr_at,
    ndcg_at,
    query_variants,
    recall_at,
    restrict_qrels,
    score_run,
)

# ---------------------------------------------------------------------------------------------- metrics


def test_mrr_is_reciprocal_rank_of_first_relevant() -> None:
    assert mrr_at(["a", "b", "c"], {"c": 1}) == pytest.approx(1 / 3)
    assert mrr_at(["a", "b", "c"], {"b": 1, "c": 1}) == pytest.approx(1 / 2)


def test_mrr_ignores_relevant_beyond_k_and_zero_grades() -> None:
    ranked = [f"d{i}" for i in range(20)]
    assert mrr_at(ranked, {"d10": 1}, k=10) == 0.0  # rank 11
    assert mrr_at(ranked, {"d9": 1}, k=10) == pytest.approx(0.1)
    assert mrr_at(["a", "b"], {"a": 0, "b": 1}) == pytest.approx(0.5)


def test_duplicates_are_credited_once() -> None:
    assert mrr_at(["a", "a", "b"], {"b": 1}) == pytest.approx(1 / 2)
    assert recall_at(["a", "a", "b"], {"b": 1}, 2) == 1.0


def test_ndcg_linear_gain() -> None:
    # DCG = 0 + 1/log2(3) + 2/log2(4) = 0.63093 + 1 = 1.63093; ideal = 2/1 + 1/log2(3) = 2.63093.
    assert ndcg_at(["a", "b", "c"], {"b": 1, "c": 2}) == pytest.approx(1.63093 / 2.63093, abs=1e-5)
    assert ndcg_at(["x", "a"], {"a": 1}) == pytest.approx(0.63093, abs=1e-5)  # 1/log2(3)
    assert ndcg_at(["a"], {"a": 1}) == 1.0
    assert ndcg_at(["x"], {}) == 0.0


def test_ndcg_ideal_is_cut_at_k() -> None:
    rel = {"a": 1, "b": 1, "c": 1}
    assert ndcg_at(["a", "b"], rel, k=2) == 1.0


def test_recall_at_k() -> None:
    rel = {"a": 1, "b": 1, "c": 1}
    assert recall_at(["a", "x", "b"], rel, 2) == pytest.approx(1 / 3)
    assert recall_at(["a", "x", "b"], rel, 3) == pytest.approx(2 / 3)
    assert recall_at(["a"], {}, 10) == 0.0


def test_score_run_averages_over_judged_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}  # q3 has nothing relevant: not counted
    run = {"q1": ["a"], "q2": ["x", "b"], "q3": ["c"]}
    m = score_run(run, qrels)
    assert m.queries == 2
    assert m.mrr10 == pytest.approx((1 + 0.5) / 2)
    assert m.ndcg10 == pytest.approx((1 + 0.63093) / 2, abs=1e-5)
    assert (m.recall10, m.recall100) == (1.0, 1.0)


def test_score_run_counts_a_query_without_results_as_zero() -> None:
    m = score_run({"q1": ["a"]}, {"q1": {"a": 1}, "q2": {"b": 1}})
    assert m == Metrics(mrr10=0.5, ndcg10=0.5, recall10=0.5, recall100=0.5, queries=2)


def test_score_run_of_nothing() -> None:
    assert score_run({}, {}) == Metrics(0.0, 0.0, 0.0, 0.0, 0)


def test_restrict_qrels_keeps_the_queries_run() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    assert restrict_qrels(qrels, [Query("q2", "x")]) == {"q2": {"b": 1}}


# ---------------------------------------------------------------------------------------------- loaders


def test_load_queries_splits_on_newline_only(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    records = [{"id": "1", "text": "Hà\u2028Nội?", "answers": ["x"]}, {"id": 2, "text": "trẻ em\r"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n\n", encoding="utf-8")
    assert load_queries(path) == [Query("1", "Hà\u2028Nội?"), Query("2", "trẻ em\r")]


def test_load_qrels_any_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "qrels.tsv"
    path.write_text("q1\t0\td1\t1\nq1 0  d2 2\n\nq2\t0\td1\t0\n", encoding="utf-8")
    assert load_qrels(path) == {"q1": {"d1": 1, "d2": 2}, "q2": {"d1": 0}}


def test_load_qrels_rejects_a_malformed_line(tmp_path: Path) -> None:
    path = tmp_path / "qrels.tsv"
    path.write_text("q1 d1 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="qrels.tsv:1"):
        load_qrels(path)


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz"])
def test_load_corpus_plain_and_gzip(tmp_path: Path, name: str) -> None:
    docs = [{"id": "a", "title": "Super_Bowl_50", "body": "dòng một\u2028dòng hai"}, {"id": "b", "body": "x"}]
    data = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode("utf-8")
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert list(load_corpus(path)) == docs


# ---------------------------------------------------------------------------------------------- query forms


@pytest.mark.parametrize(
    ("text", "plain", "telex"),
    [
        ("trẻ em", "tre em", "trer em"),
        ("đường", "duong", "dduwowngf"),
        ("Hà Nội", "Ha Noi", "Haf Nooij"),
        ("Đà Nẵng", "Da Nang", "DDaf Nawngx"),
        ("thuở ấy", "thuo ay", "thuowr aays"),
        ("khuỷu tay ê", "khuyu tay e", "khuyur tay ee"),
        ("HÀ NỘI", "HA NOI", "HAF NOOIJ"),
        ("498.000 đồng, U23!", "498.000 dong, U23!", "498.000 ddoongf, U23!"),
    ],
)
def test_query_variants(text: str, plain: str, telex: str) -> None:
    assert query_variants(text) == {"as_written": text, "no_diacritics": plain, "telex": telex}


def test_query_variants_of_decomposed_input() -> None:
    nfd = "Ha\u0300 No\u0302\u0323i"  # Hà Nội as a phone may send it
    assert query_variants(nfd)["no_diacritics"] == "Ha Noi"
    assert query_variants(nfd)["telex"] == "Haf Nooij"
