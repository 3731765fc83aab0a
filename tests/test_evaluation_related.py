"""The related-articles harness on small hand-made corpora: what it judges by, what it hides from the index,
and its figures against values counted by hand."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from searchsvc.cli import main
from searchsvc.evaluation_related import (
    build_related_index,
    evaluate_related,
    judge_records,
    label_of,
    load_judged,
    precision_at,
    sample_ids,
    score_related,
)
from searchsvc.search.engine import Engine, SearchRequest


def _rec(i: str, label: str, title: str, body: str, **extra: Any) -> dict[str, Any]:
    # The label words (Xylofon, Quixotic, Zentrum) are written nowhere but in the label fields.
    return {"id": i, "title": title, "body": body, "category": f"{label} Xylofon", "subcategory": "Quixotic",
            "breadcrumb": ["Zentrum", label], "tags": ["Quixotic Zentrum"], "url": f"https://x.vn/xylofon/{i}",
            **extra}


FOOTBALL = "Bóng đá"
BANKS = "Ngân hàng"
WEATHER = "Thời tiết"
RECORDS: list[dict[str, Any]] = [
    _rec("f1", FOOTBALL, "Đội tuyển Việt Nam thắng Thái Lan",
         "Đội tuyển bóng đá Việt Nam ghi hai bàn thắng trước Thái Lan trên sân Mỹ Đình. Huấn luyện viên khen "
         "các cầu thủ trẻ.", group="g1"),
    _rec("f2", FOOTBALL, "Quang Hải ghi bàn đẹp",
         "Tiền vệ Quang Hải ghi bàn thắng giúp đội tuyển bóng đá giành ba điểm. Cầu thủ này được huấn luyện viên "
         "tin dùng."),
    _rec("f3", FOOTBALL, "Huấn luyện viên công bố danh sách",
         "Huấn luyện viên đội tuyển bóng đá công bố danh sách hai mươi ba cầu thủ chuẩn bị cho vòng loại."),
    # f1 syndicated under another headline: a copy.
    _rec("f1c", FOOTBALL, "Việt Nam hạ Thái Lan trên sân nhà",
         "Đội tuyển bóng đá Việt Nam ghi hai bàn thắng trước Thái Lan trên sân Mỹ Đình. Huấn luyện viên khen "
         "các cầu thủ trẻ.", group="g1"),
    _rec("b1", BANKS, "Ngân hàng giảm lãi suất cho vay",
         "Nhiều ngân hàng thương mại giảm lãi suất cho vay mua nhà. Khách hàng vay vốn được hưởng lợi."),
    _rec("b2", BANKS, "Lãi suất tiết kiệm tăng nhẹ",
         "Các ngân hàng tăng lãi suất tiết kiệm kỳ hạn dài để hút vốn. Khách hàng gửi tiết kiệm có lợi."),
    _rec("b3", BANKS, "Ngân hàng Nhà nước điều hành tỷ giá",
         "Ngân hàng Nhà nước giữ ổn định tỷ giá và lãi suất điều hành. Các ngân hàng thương mại tuân thủ."),
    _rec("w1", WEATHER, "Mưa lớn ở miền Trung",
         "Mưa lớn kéo dài gây ngập lụt nhiều tỉnh miền Trung. Người dân sơ tán khỏi vùng ngập."),
    _rec("w2", WEATHER, "Bão số ba đổ bộ",
         "Bão số ba gây mưa lớn và gió mạnh ở các tỉnh miền Trung. Nhiều nhà bị tốc mái."),
    _rec("w3", WEATHER, "Lũ lụt miền Trung",
         "Lũ lên nhanh sau mưa lớn khiến nhiều xã miền Trung bị cô lập. Người dân cần sơ tán."),
    # Not judged: no label.
    {"id": "u1", "title": "Tin không chuyên mục", "body": "Một bài báo về bóng đá và lãi suất ngân hàng."},
]


def write_corpus(path: Path, records: list[dict[str, Any]]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def corpus_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("related") / "corpus.jsonl.gz", RECORDS)


# ---------------------------------------------------------------------------------------------- judging


def test_labels_read_from_a_field_or_the_breadcrumb() -> None:
    r = {"category": " Thể thao ", "breadcrumb": ["Thể thao", "V-League", "Tin tức"], "subcategory": None}
    assert label_of(r, "category") == "Thể thao"
    assert label_of(r, "breadcrumb-last") == "Tin tức"
    assert label_of(r, "breadcrumb-first") == "Thể thao"
    assert label_of(r, "breadcrumb") == "Thể thao > V-League > Tin tức"
    assert label_of(r, "subcategory") == ""
    assert label_of({"breadcrumb": "Trang chủ / Xã hội / Trẻ em"}, "breadcrumb-last") == "Trẻ em"
    assert label_of({}, "breadcrumb-last") == ""


def test_records_without_the_label_are_skipped_and_the_rest_keep_only_their_text() -> None:
    records = [*RECORDS, {"id": "d1", "title_slug": "gia-vang-tang", "body": "Giá vàng tăng.", "category": "KD"},
               {"id": "bad", "category": "KD"}]  # no title, slug or text: not an article
    corpus = judge_records(records, "category", "group")
    assert [a.id for a in corpus.articles] == [r["id"] for r in RECORDS[:-1]] + ["d1"]
    assert corpus.skipped == 2  # u1 (no label) and bad
    assert corpus.labels["f2"] == "Bóng đá Xylofon" and corpus.labels["d1"] == "KD"
    assert {(a.category, a.tags, a.url) for a in corpus.articles} == {("", (), "")}
    assert next(a for a in corpus.articles if a.id == "d1").title == "gia vang tang"  # Dân Trí's headline slug
    assert corpus.groups == {"f1": "g1", "f1c": "g1"}
    assert corpus.copies_of("f1") == {"f1c"} and corpus.copies_of("f2") == set()


def test_a_copy_group_of_one_is_no_copy() -> None:
    corpus = judge_records([{**RECORDS[0], "group": "alone"}, RECORDS[1]], "category", "group")
    assert corpus.groups == {}


def test_the_sample_is_seeded_and_does_not_depend_on_the_corpus_order() -> None:
    shuffled = RECORDS[:]
    random.Random(5).shuffle(shuffled)
    a = sample_ids(judge_records(RECORDS, "category"), 4, seed=3)
    assert a == sample_ids(judge_records(shuffled, "category"), 4, seed=3)
    assert len(set(a)) == 4 and a != sample_ids(judge_records(RECORDS, "category"), 4, seed=4)
    assert sorted(sample_ids(judge_records(RECORDS, "category"), 100)) == sorted(r["id"] for r in RECORDS[:-1])
    assert sorted(sample_ids(judge_records(RECORDS, None, "group"), 100, with_copies=True)) == ["f1", "f1c"]


def test_precision_counts_an_empty_slot_as_a_miss() -> None:
    labels = {"a": "x", "b": "y", "c": "x"}
    assert precision_at(["a", "b"], "x", labels, 5) == pytest.approx(1 / 5)
    assert precision_at(["a", "b", "c"], "x", labels, 2) == pytest.approx(1 / 2)  # only the first k count
    assert precision_at([], "x", labels, 10) == 0.0
    assert precision_at(["a", "a", "b"], "x", labels, 2) == pytest.approx(1 / 2)  # credited once


def test_a_run_scored_by_hand() -> None:
    corpus = judge_records(RECORDS, "breadcrumb-last", "group")
    run = {
        "f1": ["f2", "f1c", "b1", "f3", "w1", "w2"],  # P@5 3/5, P@10 3/10; lists its copy
        "b1": ["b1", "b2"],  # itself listed: P@5 2/5 (it is of its own label), P@10 2/10
        "w1": [],  # nothing: 0, 0
        "f1c": ["w1"],  # has a copy, does not list it: 0, 0
    }
    m = score_related(run, corpus, "breadcrumb-last", timings_ms=[float(t) for t in range(1, 21)],
                      index_seconds=1.5)
    assert m.p5 == pytest.approx((3 / 5 + 2 / 5 + 0 + 0) / 4)
    assert m.p10 == pytest.approx((3 / 10 + 2 / 10 + 0 + 0) / 4)
    assert m.returned == pytest.approx((6 + 2 + 0 + 1) / 4)
    assert (m.sampled, m.articles, m.label) == (4, 10, "breadcrumb-last")
    assert (m.self_matches, m.with_copies, m.copies_listed) == (1, 2, 1)
    assert (m.p50_ms, m.p95_ms, m.index_seconds) == (10.0, 19.0, 1.5)  # nearest rank


def test_without_labels_only_copies_are_judged() -> None:
    corpus = judge_records(RECORDS, None, "group")
    assert len(corpus.articles) == len(RECORDS)  # u1 too: nothing to be labelled by
    m = score_related({"f1": ["f1c"], "f1c": ["f2"]}, corpus)
    assert (m.p5, m.p10, m.with_copies, m.copies_listed) == (None, None, 2, 1)


# ---------------------------------------------------------------------------------------------- searchsvc


def test_the_labels_never_reach_the_index(corpus_path: Path, tmp_path: Path) -> None:
    corpus = load_judged(corpus_path, "category", "group")
    build_related_index(corpus, tmp_path / "index")
    engine = Engine.open(tmp_path / "index")
    for word in ("xylofon", "Quixotic", "zentrum", "title:xylofon"):
        assert engine.search(SearchRequest(q=word)).total == 0, word
    assert engine.search(SearchRequest(q="lãi suất")).total == 3  # the text is there: b1, b2, b3 (u1 is unlabelled)
    assert engine.search(SearchRequest(tags=("Quixotic Zentrum",))).total == 0
    assert engine.search(SearchRequest(category="Bóng đá Xylofon")).total == 0
    stored = engine.article("f2")
    assert (stored["category"], stored["tags"], stored["url"]) == ("", [], "")
    assert stored["title"] == "Quang Hải ghi bàn đẹp"


def test_evaluate_related_reports_what_the_engine_lists(corpus_path: Path, tmp_path: Path) -> None:
    home = tmp_path / "index"
    m = evaluate_related(corpus_path, "category", "group", sample=100, seed=1, index_dir=home)
    corpus = load_judged(corpus_path, "category", "group")
    engine = Engine.open(home)
    run = {i: [r.hit.id for r in engine.related(i, limit=10)] for i in sample_ids(corpus, 100, seed=1)}
    # By hand, from the engine's own lists.
    p5 = sum(sum(corpus.labels[o] == corpus.labels[i] for o in ids[:5]) / 5 for i, ids in run.items()) / len(run)
    p10 = sum(sum(corpus.labels[o] == corpus.labels[i] for o in ids[:10]) / 10 for i, ids in run.items()) / len(run)
    assert (m.articles, m.sampled, m.with_copies) == (10, 10, 2)
    assert m.p5 == pytest.approx(p5) and m.p10 == pytest.approx(p10)
    assert m.returned == pytest.approx(sum(map(len, run.values())) / 10)
    assert m.self_matches == sum(i in ids for i, ids in run.items()) == 0
    assert m.copies_listed == ("f1c" in run["f1"]) + ("f1" in run["f1c"])
    assert m.index_seconds > 0 and 0 < m.p50_ms <= m.p95_ms
    assert m.returned > 0  # each story shares words with the others of its label


def test_evaluate_related_refuses_a_corpus_without_the_label(corpus_path: Path) -> None:
    with pytest.raises(ValueError, match="no article in .* has a non-empty 'nothing'"):
        evaluate_related(corpus_path, "nothing")


# ---------------------------------------------------------------------------------------------- the CLI


def _eval(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(main, ["--quiet", "eval", *args], catch_exceptions=False)


def test_cli_related_json(corpus_path: Path) -> None:
    runner = CliRunner()
    result = _eval(runner, "--related", "--corpus", str(corpus_path), "--label", "breadcrumb-last",
                   "--copies", "group", "--sample", "4", "--seed", "2", "--json", "--procs", "1")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["label"], out["articles"], out["sampled"], out["self_matches"]) == ("breadcrumb-last", 10, 4, 0)
    assert 0 <= out["p@5"] <= 1 and 0 <= out["p@10"] <= 1 and out["returned"] <= 10
    sampled = sample_ids(load_judged(corpus_path, "breadcrumb-last", "group"), 4, seed=2)
    assert out["with_copies"] == len({"f1", "f1c"} & set(sampled)) and out["copies_listed"] <= out["with_copies"]


def test_cli_related_table_and_errors(corpus_path: Path) -> None:
    runner = CliRunner()
    table = _eval(runner, "--related", "--corpus", str(corpus_path), "--label", "category", "--procs", "1")
    assert table.exit_code == 0, table.output
    names = [line.split(":")[0] for line in table.stdout.splitlines()]
    assert names == ["label", "articles", "sampled", "p@5", "p@10", "returned", "self-matches", "related ms"]
    assert "sampled:       10" in table.stdout

    missing = _eval(runner, "--related", "--corpus", str(corpus_path), "--label", "nothing", "--procs", "1")
    assert missing.exit_code == 1 and "cannot evaluate: no article in" in missing.stderr
    assert "Traceback" not in missing.output
    bare = _eval(runner, "--related", "--corpus", str(corpus_path))
    assert bare.exit_code == 2 and "--related needs --label, --copies or both" in bare.stderr
    mixed = _eval(runner, "--related", "--corpus", str(corpus_path), "--label", "category", "--qrels", str(corpus_path))
    assert mixed.exit_code == 2 and "--qrels cannot be used with --related" in mixed.stderr


def test_cli_eval_without_related_still_needs_queries_and_qrels(corpus_path: Path) -> None:
    runner = CliRunner()
    result = _eval(runner, "--corpus", str(corpus_path))
    assert result.exit_code == 2 and "Missing option '--queries'" in result.stderr
    result = _eval(runner, "--corpus", str(corpus_path), "--queries", str(corpus_path))
    assert result.exit_code == 2 and "Missing option '--qrels'" in result.stderr
    result = _eval(runner, "--corpus", str(corpus_path), "--label", "category")
    assert result.exit_code == 2 and "--label cannot be used with search evaluation" in result.stderr
