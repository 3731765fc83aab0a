"""The reindex progress file: written while a reindex reads, gone when it ends, ignored when its job is dead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from searchsvc.articles import Article
from searchsvc.store import progress, writer
from searchsvc.store.home import IndexHome


def test_a_reindex_reports_its_progress_while_it_runs_and_removes_it_after(
        sample_articles: tuple[Article, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "EVERY", 0.0)
    seen: list[dict[str, object] | None] = []

    def articles() -> Iterator[Article]:
        for i, article in enumerate(sample_articles[:60]):
            if i in (0, 30):
                seen.append(progress.read(tmp_path))
            yield article

    writer.reindex(IndexHome(tmp_path), articles())
    assert seen[0] is None or seen[0]["read"] == 0  # before the first article was counted
    assert seen[1] is not None and seen[1]["read"] == 30 and seen[1]["stage"] == "reading"
    assert seen[1]["pid"] == os.getpid()
    assert progress.read(tmp_path) is None and not (tmp_path / progress.FILE).exists()


def test_a_failed_reindex_leaves_no_progress(sample_articles: tuple[Article, ...], tmp_path: Path) -> None:
    with pytest.raises(writer.Refused):
        writer.reindex(IndexHome(tmp_path), sample_articles[:5], max_rejects=-1)
    assert not (tmp_path / progress.FILE).exists()


def test_the_file_of_a_killed_job_means_nothing_runs(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    (tmp_path / progress.FILE).write_text(json.dumps({"pid": int(dead.stdout), "started": 1.0, "read": 5,
                                                      "stage": "reading", "updated": 2.0}), encoding="utf-8")
    assert progress.read(tmp_path) is None
    (tmp_path / progress.FILE).write_text("{not json", encoding="utf-8")
    assert progress.read(tmp_path) is None
