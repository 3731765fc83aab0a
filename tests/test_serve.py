"""`searchsvc serve` for real: gunicorn in a subprocess on a free loopback port, queried over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from searchsvc.web.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@contextmanager
def serving(index_dir: Path, *extra: str) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-c", "from searchsvc.cli import main; main()", "--index-dir", str(index_dir), "--quiet",
           "serve", "--port", str(port), "--workers", "1", "--threads", "2", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"serve exited with {proc.returncode}:\n{out}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise AssertionError("serve did not answer /healthz within 120 s") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def test_serve_answers_over_http(index_dir: Path) -> None:
    with serving(index_dir) as base:
        status, health = get_json(base + "/healthz")
        assert status == 200 and health["doc_count"] == 7
        status, data = get_json(base + "/api/search?" + urllib.parse.urlencode({"q": "giá vàng"}))
        assert status == 200 and data["hits"][0]["id"] == "a6"
        status, error = get_json(base + "/api/search?page=0")
        assert status == 400 and set(error) == {"error"}


def test_a_query_over_the_limit_reaches_the_app_through_gunicorn(index_dir: Path) -> None:
    # Vietnamese percent-encodes to up to 9 bytes a character: 501 of them make a request line of ~4.5 kB,
    # past gunicorn's default 4,094, which would answer with its own HTML 400 instead of our JSON one.
    with serving(index_dir) as base:
        longest = "ệ" * 500
        status, data = get_json(base + "/api/search?" + urllib.parse.urlencode({"q": longest, "sort": "newest"}))
        assert status == 200 and data["query"]["q"] == longest
        status, error = get_json(base + "/api/search?" + urllib.parse.urlencode({"q": longest + "ệ"}))
        assert status == 400 and error["error"]["code"] == "bad_request" and "'q'" in error["error"]["message"]


def test_serve_builds_the_sample_when_there_is_no_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The packaged sample takes tens of seconds to index: a two-article stand-in exercises the same path,
    # and gunicorn is replaced by a recorder (the test above runs it for real).
    from searchsvc import cli, sample

    small = tmp_path / "sample.jsonl"
    small.write_text(
        '{"id": "s1", "title": "Giá vàng tăng", "body": "Giá vàng tăng mạnh."}\n'
        '{"id": "s2", "title": "Bóng đá", "body": "Đội tuyển thắng."}\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(sample, "SAMPLE_PATH", small)
    ran: list[dict[str, Any]] = []
    monkeypatch.setattr(cli._Gunicorn, "run", lambda self: ran.append({**self.options, **self.app_config}))
    home = tmp_path / "index"
    result = CliRunner().invoke(cli.main, ["--index-dir", str(home), "serve", "--port", "9999", "--workers", "3"])
    assert result.exit_code == 0, result.output
    assert f"building one from the packaged sample {small}" in result.stderr
    assert ran == [{"bind": "127.0.0.1:9999", "workers": 3, "threads": 4, "accesslog": "-", "limit_request_line": 8190,
                    "INDEX_DIR": str(home)}]
    health = create_app({"INDEX_DIR": str(home)}).test_client().get("/healthz").get_json()
    assert health["doc_count"] == 2
    # With an index present, serve leaves it alone.
    again = CliRunner().invoke(cli.main, ["--index-dir", str(home), "serve"])
    assert again.exit_code == 0 and "building" not in again.stderr
