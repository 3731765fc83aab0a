"""/metrics on the real app, parsed with prometheus-client's own parser; the JSON access log."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from searchsvc.articles import Article
from searchsvc.store import progress, writer
from searchsvc.store.home import IndexHome
from searchsvc.web.metrics import set_replica_lag

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
AppFactory = Callable[..., Flask]


def _scrape(client: FlaskClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    content_type = response.headers["Content-Type"]
    assert content_type.startswith("text/plain; version=") and content_type.count("charset") == 1
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def _labels(route: str, status: str, method: str = "GET") -> tuple[tuple[str, str], ...]:
    return (("method", method), ("route", route), ("status", status))


def _requests(samples: Samples, route: str, status: str, method: str = "GET") -> float:
    return samples.get(("searchsvc_http_requests_total", _labels(route, status, method)), 0.0)


def test_openmetrics_when_the_scraper_asks_for_it(client: FlaskClient) -> None:
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).endswith("# EOF\n")


def test_requests_are_counted_and_timed_by_route_and_status(client: FlaskClient) -> None:
    assert client.get("/api/search?q=tre+em").status_code == 200
    assert client.get("/api/articles/a1").status_code == 200
    assert client.get("/api/articles/a2").status_code == 200
    assert client.get("/api/articles/nope").status_code == 404
    assert client.get("/api/search?q=%C3%28").status_code == 400  # refused by a request hook, still counted
    assert client.get("/no/such/page/123").status_code == 404
    samples = _scrape(client)
    assert _requests(samples, "/api/search", "200") == 1
    assert _requests(samples, "/api/articles/<article_id>", "200") == 2  # the rule, not each article's path
    assert _requests(samples, "/api/articles/<article_id>", "404") == 1
    assert _requests(samples, "/api/search", "400") == 1
    assert _requests(samples, "unmatched", "404") == 1
    assert not any("/api/articles/a1" in str(labels) or "/no/such" in str(labels) for _, labels in samples)
    article = _labels("/api/articles/<article_id>", "200")
    assert samples[("searchsvc_http_request_duration_seconds_count", article)] == 2
    assert 0 < samples[("searchsvc_http_request_duration_seconds_sum", article)] < 10
    assert samples[("searchsvc_http_request_duration_seconds_bucket", tuple(sorted((*article, ("le", "+Inf")))))] == 2
    assert _requests(_scrape(client), "/metrics", "200") == 1  # the first scrape, counted by the second


def test_answer_cache_hits_and_misses(client: FlaskClient) -> None:
    for q in ("tre em", "tre em", "tre em", "vang"):
        assert client.get("/api/search", query_string={"q": q}).status_code == 200
    samples = _scrape(client)
    assert samples[("searchsvc_answer_cache_hits_total", ())] == 2
    assert samples[("searchsvc_answer_cache_misses_total", ())] == 2


def test_the_generation_served_and_its_age(client: FlaskClient, index_dir: Path,
                                           sample_articles: tuple[Article, ...]) -> None:
    samples = _scrape(client)
    home = IndexHome(index_dir)
    built = datetime.fromisoformat(home.meta(home.current())["created"])
    age = (datetime.now(UTC) - built).total_seconds()
    assert samples[("searchsvc_index_up", ())] == 1
    assert samples[("searchsvc_generation", ())] == 1
    assert samples[("searchsvc_index_documents", ())] == 7
    assert age - 5 <= samples[("searchsvc_generation_age_seconds", ())] <= age + 5
    writer.reindex(home, sample_articles[:20])
    samples = _scrape(client)
    assert samples[("searchsvc_generation", ())] == 2 and samples[("searchsvc_index_documents", ())] == 20
    assert 0 <= samples[("searchsvc_generation_age_seconds", ())] < 60


def test_no_index_is_index_up_0_and_still_a_scrape(make_app: AppFactory, tmp_path: Path) -> None:
    with make_app(tmp_path / "empty").test_client() as client:
        samples = _scrape(client)
    assert samples[("searchsvc_index_up", ())] == 0
    assert ("searchsvc_generation", ()) not in samples
    assert samples[("searchsvc_reindex_running", ())] == 0


def test_replica_lag_is_nan_until_the_replica_sets_it(app: Flask, client: FlaskClient) -> None:
    assert math.isnan(_scrape(client)[("searchsvc_replica_lag_seconds", ())])
    set_replica_lag(app, 2.5)
    assert _scrape(client)[("searchsvc_replica_lag_seconds", ())] == 2.5


def test_reindex_progress_is_read_from_the_running_job(client: FlaskClient, index_dir: Path,
                                                       sample_articles: tuple[Article, ...],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "EVERY", 0.0)
    during: list[Samples] = []

    def articles() -> Iterator[Article]:
        for i, article in enumerate(sample_articles[:30]):
            if i == 25:  # the server scrapes while the job (here, in this same process) reads
                during.append(_scrape(client))
            yield article

    writer.reindex(IndexHome(index_dir), articles())
    [mid] = during
    assert mid[("searchsvc_reindex_running", ())] == 1
    assert mid[("searchsvc_reindex_articles_read", ())] == 25
    assert mid[("searchsvc_reindex_stage", (("stage", "reading"),))] == 1
    assert mid[("searchsvc_reindex_stage", (("stage", "publishing"),))] == 0
    assert mid[("searchsvc_generation", ())] == 1  # still serving the old one
    after = _scrape(client)
    assert after[("searchsvc_reindex_running", ())] == 0 and ("searchsvc_reindex_articles_read", ()) not in after
    assert after[("searchsvc_generation", ())] == 2


def test_each_app_has_its_own_counters(make_app: AppFactory, index_dir: Path) -> None:
    first, second = make_app(index_dir).test_client(), make_app(index_dir).test_client()
    first.get("/healthz")
    first.get("/healthz")
    assert _requests(_scrape(first), "/healthz", "200") == 2
    assert _requests(_scrape(second), "/healthz", "200") == 0


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_access_log_is_one_json_line_a_request(make_app: AppFactory, index_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    app = make_app(index_dir, ACCESS_LOG=str(log), OPERATOR_TOKEN="s3cret-token")
    with app.test_client() as client:
        client.get("/api/search?q=tr%E1%BA%BB+em&page=1")
        client.get("/api/articles/nope")
        client.delete("/api/articles/a1", headers={"Authorization": "Bearer s3cret-token"})
        client.get("/")
    search, missing, deleted, page = _lines(log)
    assert search.keys() == {"time", "method", "route", "path", "status", "ms", "generation"}
    assert (search["route"], search["path"], search["status"], search["generation"]) == (
        "/api/search", "/api/search", 200, 1)
    assert isinstance(search["ms"], float) and 0 < search["ms"] < 10_000
    assert (missing["route"], missing["path"], missing["status"]) == (
        "/api/articles/<article_id>", "/api/articles/nope", 404)
    assert (deleted["method"], deleted["status"]) == ("DELETE", 200)
    assert page["route"] == "/" and page["generation"] is None  # the page does not open the index
    text = log.read_text(encoding="utf-8")
    assert "s3cret-token" not in text and "tr%E1" not in text and "trẻ" not in text  # no tokens, no queries


def test_the_access_log_goes_to_stderr_with_dash_and_is_off_by_default(
        make_app: AppFactory, index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with make_app(index_dir).test_client() as client:
        client.get("/healthz")
    assert '"route"' not in capsys.readouterr().err
    with make_app(index_dir, ACCESS_LOG="-").test_client() as client:
        client.get("/healthz")
    [line] = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert (line["route"], line["status"], line["generation"]) == ("/healthz", 200, 1)


_FORKED_WORKERS = """
import os, sys
from searchsvc.web.app import create_app
app = create_app({"INDEX_DIR": sys.argv[1], "TESTING": True})
child = os.fork()  # two workers of one server, as gunicorn forks them after loading the app
with app.test_client() as client:
    for _ in range(3 if child == 0 else 2):
        client.get("/healthz")
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
"""


def test_in_multiprocess_mode_a_scrape_sums_the_workers_requests(index_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    out = subprocess.run([sys.executable, "-c", _FORKED_WORKERS, str(index_dir)], env=env, capture_output=True,
                         text=True, check=True, timeout=120).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(out) for s in family.samples}
    assert _requests(samples, "/healthz", "200") == 5
    assert samples[("searchsvc_generation", ())] == 1
