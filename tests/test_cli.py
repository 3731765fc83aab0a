"""The real CLI through CliRunner: the same index code paths the service uses."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from searchsvc.cli import main
from searchsvc.store.schema import FORMAT_VERSION

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


SCRAPED_PAGE = """Sức khỏe
Trang chủ / Xã hội / Sức khỏe
Hà Nội đẩy nhanh tiêm chủng cho trẻ nhỏ
09:15 AM 02/03/2021
(LĐXH) - Thành phố mở thêm điểm tiêm chủng ở các phường.

Các trạm y tế làm việc cả ngày thứ Bảy.

Minh Anh
TAG:
Tin khác
Một bài khác không thuộc trang này
"""


def run(runner: CliRunner, home: Path, *args: str) -> Result:
    return runner.invoke(main, ["--index-dir", str(home), "--quiet", *args], catch_exceptions=False)


def hit_ids(result: Result) -> list[str]:
    # Hit lines: "    <id>  <date>  <score>" under each title.
    return [line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ")]


def test_reindex_over_max_rejects_publishes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "index"
    assert run(runner, home, "reindex", "--procs", "1", str(write_jsonl(tmp_path / "a.jsonl", GOOD))).exit_code == 0
    # A broken feed: 8 of 12 lines bad, and the 4 good ones would replace the 3 serving articles.
    lines = [json.dumps({"id": f"n{i}", "title": f"Tin số {i}", "body": "Nội dung."}) for i in range(4)]
    lines += ['{"id": "broken", "title": '] * 8
    feed = tmp_path / "broken.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(runner, home, "reindex", "--procs", "1", str(feed))
    assert result.exit_code == 1
    assert f"{feed}:5: " in result.stderr and f"{feed}:12: " in result.stderr
    assert "8 records rejected, more than --max-rejects 0; nothing was published" in result.stderr
    assert "Traceback" not in result.output
    assert (home / "CURRENT").read_text().strip() == "gen-000001"
    assert "documents:      3" in run(runner, home, "stats").stdout
    assert hit_ids(run(runner, home, "search", "giá xăng")) == ["c1"]
    assert not list(home.glob("gen-*.tmp-*"))  # the refused build is gone


def test_add_over_max_rejects_applies_nothing(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "index"
    run(runner, home, "reindex", "--procs", "1", str(write_jsonl(tmp_path / "a.jsonl", GOOD[:1])))
    result = run(runner, home, "add", str(write_jsonl(tmp_path / "b.jsonl", GOOD[1:], bad_line_at=1)))
    assert result.exit_code == 1 and f"{tmp_path / 'b.jsonl'}:1: " in result.stderr
    assert "nothing was applied" in result.stderr
    assert "documents:      1" in run(runner, home, "stats").stdout
    assert hit_ids(run(runner, home, "search", "mưa lớn")) == []


def test_reindex_shrink_guard(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "index"
    many = [{"id": f"m{i}", "title": f"Bài báo số {i}", "body": "Thời sự trong ngày."} for i in range(10)]
    assert run(runner, home, "reindex", "--procs", "1", str(write_jsonl(tmp_path / "a.jsonl", many))).exit_code == 0
    truncated = write_jsonl(tmp_path / "t.jsonl", many[:4])
    refused = run(runner, home, "reindex", "--procs", "1", str(truncated))
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1 and "4 articles" in refused.stderr and "10" in refused.stderr
    assert "--allow-shrink" in refused.stderr
    assert "documents:      10" in run(runner, home, "stats").stdout
    # Half or more is allowed; fewer with --allow-shrink too.
    assert run(runner, home, "reindex", "--procs", "1", str(write_jsonl(tmp_path / "h.jsonl", many[:5]))).exit_code == 0
    forced = run(runner, home, "reindex", "--procs", "1", "--allow-shrink", str(truncated))
    assert forced.exit_code == 0, forced.output
    assert "documents:      4" in run(runner, home, "stats").stdout


def test_shrink_guard_setting(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "index"
    many = [{"id": f"m{i}", "title": f"Bài báo số {i}", "body": "Thời sự."} for i in range(10)]
    run(runner, home, "reindex", "--procs", "1", str(write_jsonl(tmp_path / "a.jsonl", many)))
    env = {"SEARCHSVC_SHRINK_GUARD": "0.9"}
    args = ["--index-dir", str(home), "--quiet", "reindex", "--procs", "1"]
    assert runner.invoke(main, [*args, str(write_jsonl(tmp_path / "b.jsonl", many[:8]))], env=env).exit_code == 1
    assert runner.invoke(main, [*args, str(write_jsonl(tmp_path / "c.jsonl", many[:9]))], env=env).exit_code == 0


def test_reindex_a_single_scraped_page(runner: CliRunner, tmp_path: Path) -> None:
    page = tmp_path / "trang.txt"
    page.write_text(SCRAPED_PAGE, encoding="utf-8")
    home = tmp_path / "index"
    for extra in ([], ["--format", "scraped"]):
        result = run(runner, home, "reindex", "--procs", "1", "--allow-shrink", *extra, str(page))
        assert result.exit_code == 0, result.output
        assert hit_ids(run(runner, home, "search", "tiêm chủng")) == ["trang"]
    renamed = page.rename(tmp_path / "trang.page")
    assert run(runner, home, "reindex", "--procs", "1", "--format", "scraped", str(renamed)).exit_code == 0


def test_global_options_after_the_subcommand(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "index"
    source = str(write_jsonl(tmp_path / "a.jsonl", GOOD))
    result = runner.invoke(main, ["reindex", "--index-dir", str(home), "--quiet", "--procs", "1", source])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # --quiet after the subcommand silences it too
    assert (home / "CURRENT").exists()
    stats = runner.invoke(main, ["stats", "--index-dir", str(home)])
    assert "documents:      3" in stats.stdout
    assert hit_ids(runner.invoke(main, ["search", "-q", "--index-dir", str(home), "giá xăng"])) == ["c1"]


def test_delete_of_a_missing_id(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "index"
    run(runner, home, "reindex", "--procs", "1", str(write_jsonl(tmp_path / "a.jsonl", GOOD)))
    missing = run(runner, home, "delete", "c3", "nope")
    assert missing.exit_code == 1 and "nope" in missing.stderr and "--missing-ok" in missing.stderr
    assert "documents:      3" in run(runner, home, "stats").stdout  # a failed job changes nothing
    ok = runner.invoke(main, ["--index-dir", str(home), "delete", "--missing-ok", "c3", "nope"])
    assert ok.exit_code == 0, ok.output
    assert "deleted 1 of 2 ids" in ok.stderr and "1 id was not in the index" in ok.stderr
    assert "documents:      2" in run(runner, home, "stats").stdout


def test_plurals(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "index"
    one = runner.invoke(main, ["--index-dir", str(home), "reindex", "--procs", "1",
                               str(write_jsonl(tmp_path / "a.jsonl", GOOD[:1]))])
    assert "indexed 1 article into generation 1" in one.stderr and "0 rejected" in one.stderr
    added = runner.invoke(main, ["--index-dir", str(home), "add", str(write_jsonl(tmp_path / "b.jsonl", GOOD[1:]))])
    assert "added 2 articles" in added.stderr
    gone = runner.invoke(main, ["--index-dir", str(home), "delete", "c1"])
    assert "deleted 1 of 1 id from generation 1" in gone.stderr


def test_progress_says_what_it_does_after_reading(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["--index-dir", str(tmp_path / "i"), "reindex", "--procs", "1",
                                  str(write_jsonl(tmp_path / "a.jsonl", GOOD))])
    assert result.exit_code == 0, result.output
    err = result.stderr
    # After the bar over the input: each later stage is named as it starts.
    stages = ["finishing segments (1 process)", "building the vocabulary", "publishing generation 1"]
    positions = [err.find(s) for s in stages]
    assert all(p >= 0 for p in positions), err
    assert positions == sorted(positions)


def test_duplicate_ids_last_copy_wins(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "index"
    fixed = {**GOOD[0], "title": "Giá xăng tăng trở lại", "body": "Bản đính chính."}
    source = write_jsonl(tmp_path / "a.jsonl", [*GOOD, fixed])
    result = runner.invoke(main, ["--index-dir", str(home), "reindex", "--procs", "1", str(source)])
    assert result.exit_code == 0, result.output  # a superseded copy is not a rejection
    assert f"{source}:1: id 'c1' appears again at {source} line 4; the later copy is indexed" in result.stderr
    assert "documents:      3" in run(runner, home, "stats").stdout
    assert "tăng trở lại" in run(runner, home, "search", "giá xăng").stdout
    assert hit_ids(run(runner, home, "search", "giảm mạnh")) == []
    # add: the same rule within one batch.
    again = {**GOOD[1], "title": "Đội tuyển bóng đá hòa"}
    batch = write_jsonl(tmp_path / "b.jsonl", [GOOD[1], again])
    added = runner.invoke(main, ["--index-dir", str(home), "add", str(batch)])
    assert added.exit_code == 0 and f"{batch}:1: id 'c2' appears again at {batch} line 2" in added.stderr
    assert "added 1 article" in added.stderr
    assert "Đội tuyển bóng đá hòa" in run(runner, home, "search", "bóng đá").stdout


def test_damaged_index_stats_is_one_line(runner: CliRunner, index_dir: Path) -> None:
    gen = next(index_dir.glob("gen-*"))
    for toc in gen.glob("_MAIN_*.toc"):
        toc.write_bytes(b"garbage")
    result = run(runner, index_dir, "stats")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "searchsvc reindex" in result.stderr and "Traceback" not in result.output


def test_bad_setting_is_one_line(runner: CliRunner, index_dir: Path) -> None:
    for name, value in (("QUERY_TIME_LIMIT", "fast"), ("PROCS", "0"), ("SHRINK_GUARD", "2")):
        result = runner.invoke(main, ["--index-dir", str(index_dir), "search", "trẻ em"],
                               env={f"SEARCHSVC_{name}": value})
        assert result.exit_code == 1, (name, result.output)
        assert result.stderr.count("\n") == 1 and f"SEARCHSVC_{name}" in result.stderr and value in result.stderr


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
    assert "segments:       2" in stats.stdout and f"format version: {FORMAT_VERSION}" in stats.stdout
    found = run(runner, home, "search", "mưa", "--limit", "5")
    assert "Mưa lớn ở miền Trung" in found.stdout and hit_ids(found) == ["c3"]
    assert "2024-10-20" in found.stdout
    assert run(runner, home, "delete", "c3").exit_code == 0
    assert "documents:      2" in run(runner, home, "stats").stdout
    assert hit_ids(run(runner, home, "search", "mưa")) == []


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
