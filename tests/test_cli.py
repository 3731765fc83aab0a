"""The real CLI through CliRunner: the same index code paths the service uses."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from searchsvc.cli import main

GOOD: list[dict[str, object]] = [
    {"id": "c1", "title": "Giá xăng giảm mạnh", "body": "Giá xăng dầu giảm từ chiều nay.", "tags": ["Giá xăng"],
     "published": "2024-04-01"},
    {"id": "c2", "title": "Đội tuyển bóng đá thắng lớn", "body": "Đội tuyển Việt Nam thắng 3-0.",
     "category": "Thể thao"},
    {"id": "c3", "title": "Mưa lớn ở miền Trung", "lead": "Nhiều nơi ngập sâu.", "published": "2024-10-20"},
]


def write_jsonl(path: Path, records: list[dict[str, object]], bad_line_at: int | None = None) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    if bad_line_at is not None:
        lines.insert(bad_line_at - 1, '{"id": "broken", "title": ')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(runner: CliRunner, home: Path, *args: str) -> Result:
    return runner.invoke(main, ["--index-dir", str(home), "--quiet", *args], catch_exceptions=False)


def hit_ids(result: Result) -> list[str]:
    # Hit lines: "    <id>  <date>  <score>" under each title.
    return [line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ")]


def test_reindex_reports_bad_lines_and_keeps_good_records(runner: CliRunner, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "news.jsonl", GOOD, bad_line_at=2)
    home = tmp_path / "index"
    result = run(runner, home, "reindex", "--procs", "1", str(source))
    assert result.exit_code == 1
    assert f"{source}:2: " in result.stderr
    assert "1 records rejected, more than --max-rejects 0" in result.stderr
    assert "Traceback" not in result.output
    assert hit_ids(run(runner, home, "search", "giá xăng")) == ["c1"]
    assert hit_ids(run(runner, home, "search", "mưa lớn"))[0] == "c3"


def test_reindex_within_max_rejects(runner: CliRunner, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "news.jsonl", GOOD, bad_line_at=3)
    result = runner.invoke(main, ["--index-dir", str(tmp_path / "i"), "reindex", "--procs", "1",
                                  "--max-rejects", "1", str(source)])
    assert result.exit_code == 0, result.output
    assert f"{source}:3: " in result.stderr
    assert "indexed 3 articles into generation 1" in result.stderr


def test_add_delete_stats_search(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "index"
    assert run(runner, home, "reindex", "--procs", "1", str(write_jsonl(tmp_path / "a.jsonl", GOOD[:2]))).exit_code == 0
    assert run(runner, home, "add", str(write_jsonl(tmp_path / "b.jsonl", GOOD[2:]))).exit_code == 0
    stats = run(runner, home, "stats")
    assert stats.exit_code == 0
    assert "documents:      3" in stats.stdout and "generation:     1" in stats.stdout
    assert "schema version:" in stats.stdout and "size on disk:" in stats.stdout and "last change:" in stats.stdout
    assert "segments:       2 (2 with flat postings)" in stats.stdout  # the add's segment has one too
    found = run(runner, home, "search", "mưa", "--limit", "5")
    assert "Mưa lớn ở miền Trung" in found.stdout and hit_ids(found) == ["c3"]
    assert "2024-10-20" in found.stdout
    assert run(runner, home, "delete", "c3", "nope").exit_code == 0
    assert "documents:      2" in run(runner, home, "stats").stdout
    assert hit_ids(run(runner, home, "search", "mưa")) == []


def test_add_rejects_count_toward_exit_status(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "index"
    run(runner, home, "reindex", "--procs", "1", str(write_jsonl(tmp_path / "a.jsonl", GOOD[:1])))
    result = run(runner, home, "add", str(write_jsonl(tmp_path / "b.jsonl", GOOD[1:], bad_line_at=1)))
    assert result.exit_code == 1 and f"{tmp_path / 'b.jsonl'}:1: " in result.stderr
    assert "documents:      3" in run(runner, home, "stats").stdout


def test_missing_index_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    for args in (["stats"], ["search", "x"], ["delete", "x"]):
        result = run(runner, tmp_path / "none", *args)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: no index in") and result.stderr.count("\n") == 1


def test_missing_source_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, tmp_path / "index", "reindex", str(tmp_path / "absent.jsonl"))
    assert result.exit_code == 1 and "no such file or folder" in result.stderr and "Traceback" not in result.output


def test_schema_version_mismatch(runner: CliRunner, index_dir: Path) -> None:
    meta_path = next(index_dir.glob("gen-*")) / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta_path.write_text(json.dumps({**meta, "schema_version": -1}), encoding="utf-8")
    for args in (["stats"], ["search", "trẻ em"]):
        result = run(runner, index_dir, *args)
        assert result.exit_code == 1
        assert "schema version -1" in result.stderr and "searchsvc reindex" in result.stderr
        assert "Traceback" not in result.output


def test_search_over_the_limit_is_one_line(runner: CliRunner, index_dir: Path) -> None:
    result = run(runner, index_dir, "search", "trẻ em", "--limit", "100000")
    assert result.exit_code == 1 and result.stderr.startswith("Error: ")


def test_index_dir_from_environment(runner: CliRunner, index_dir: Path) -> None:
    result = runner.invoke(main, ["stats"], env={"SEARCHSVC_INDEX_DIR": str(index_dir)})
    assert result.exit_code == 0 and "documents:      7" in result.stdout


def test_eval(runner: CliRunner, tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [
        {"id": "d1", "title": "Giá vàng", "body": "Giá vàng tăng mạnh hôm nay."},
        {"id": "d2", "title": "Bóng đá", "body": "Đội tuyển thắng trận."},
    ])
    queries = write_jsonl(tmp_path / "queries.jsonl",
                          [{"id": "q1", "text": "giá vàng"}, {"id": "q2", "text": "bóng đá"}])
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 1\nq2 0 d2 1\n", encoding="utf-8")
    args = ["eval", "--corpus", str(corpus), "--queries", str(queries), "--qrels", str(qrels)]
    data = json.loads(runner.invoke(main, [*args, "--json"]).stdout)
    assert data["queries"] == 2 and data["mrr@10"] == 1.0 and data["recall@100"] == 1.0
    table = runner.invoke(main, args).stdout
    assert "mrr@10:     1.0000" in table and "ndcg@10:" in table and "recall@10:" in table and "queries:    2" in table


def test_eval_bad_qrels_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [{"id": "d1", "title": "x", "body": "y"}])
    queries = write_jsonl(tmp_path / "queries.jsonl", [{"id": "q1", "text": "x"}])
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 d1\n", encoding="utf-8")
    result = runner.invoke(main, ["eval", "--corpus", str(corpus), "--queries", str(queries), "--qrels", str(qrels)])
    assert result.exit_code == 1 and "expected 'qid 0 docid rel'" in result.stderr
