"""Shared fixtures: a small real index of hand-written Vietnamese articles, the app, its client, the CLI runner.

The index is built once per session the way the CLI builds one (``indexing.build_index``) and copied
into each test's ``tmp_path``, so tests that add or delete articles never see each other's changes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from searchsvc.articles import VIETNAM_TZ, Article
from searchsvc.store.writer import build_index


def _day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 8, 0, tzinfo=VIETNAM_TZ)


ARTICLES: tuple[Article, ...] = (
    Article(
        id="a1", title="Bảo vệ trẻ em trong mùa hè",
        lead="Nhiều địa phương triển khai các lớp dạy bơi miễn phí cho trẻ em.",
        body="Mùa hè là thời điểm trẻ em dễ gặp tai nạn đuối nước. Phụ huynh cần chú ý giám sát con em.",
        category="Xã hội", tags=("Trẻ em", "Giáo dục"), author="Nguyễn Văn An", published=_day(2024, 6, 1),
        url="https://example.vn/a1", source="vnexpress",
    ),
    Article(
        id="a2", title="<script>alert(1)</script> Tin nhanh về công nghệ",
        lead="Một tiêu đề chứa mã độc để kiểm tra việc thoát HTML.",
        body="Các hãng công nghệ ra mắt điện thoại mới với pin lớn và camera tốt hơn.",
        category="Công nghệ", tags=("Công nghệ",), author="Trần Thị Bình", published=_day(2024, 5, 1),
        url="https://example.vn/a2", source="tuoitre",
    ),
    Article(
        # Decomposed (NFD) text, as some scrapers produce: must match a query typed in NFC.
        id="a3", title=unicodedata.normalize("NFD", "Hà Nội đón mùa mưa lớn"),
        lead=unicodedata.normalize("NFD", "Mưa lớn kéo dài khiến nhiều tuyến phố Hà Nội ngập sâu."),
        body=unicodedata.normalize("NFD", "Người dân Hà Nội vất vả di chuyển trong mưa."),
        category="Thời sự", tags=("Thời tiết",), author="Lê Minh", published=_day(2023, 12, 10),
        url="https://example.vn/a3", source="vnexpress",
    ),
    Article(
        id="a4", title="Công đoàn tổ chức hội nghị công nhân",
        lead="Hội nghị công nhân bàn về tiền lương và điều kiện làm việc.",
        body="Công đoàn công ty đề xuất tăng lương cho công nhân trong năm tới.",
        category="Xã hội", tags=("Công đoàn",), author="Nguyễn Văn An", published=_day(2024, 3, 5),
        url="https://example.vn/a4", source="tuoitre",
    ),
    Article(
        id="a5", title="Cộng đồng doanh nghiệp ủng hộ quỹ vì trẻ em",
        lead="Cộng đồng doanh nghiệp quyên góp cho quỹ bảo trợ trẻ em.",
        body="Các doanh nghiệp cùng cộng đồng đóng góp hàng tỉ đồng.",
        category="Kinh doanh", tags=("Doanh nghiệp", "Trẻ em"), author="Phạm Hoa", published=_day(2024, 2, 20),
        url="https://example.vn/a5", source="vnexpress",
    ),
    Article(
        id="a6", title="Giá vàng tăng mạnh",
        lead="Giá vàng trong nước tăng theo giá thế giới.",
        body="Giá vàng miếng tăng thêm một triệu đồng mỗi lượng trong phiên sáng nay.",
        category="Kinh doanh", tags=("Giá vàng",), author="Phạm Hoa", published=_day(2024, 7, 15),
        url="https://example.vn/a6", source="tuoitre",
    ),
    Article(
        id="a7", title="Trẻ em vùng cao đến trường",
        lead="Học sinh vùng cao vượt suối đến trường mỗi sáng.",
        body="Những em nhỏ ở vùng cao phải đi bộ hàng giờ để đến trường.",
        category="Giáo dục", tags=("Trẻ em", "Giáo dục"), author="Lê Minh", published=None,
        url="https://example.vn/a7", source="vnexpress",
    ),
)


@pytest.fixture(scope="session")
def _built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("built") / "index"
    build_index(ARTICLES, home, procs=1, quiet=True)
    return home


@pytest.fixture
def index_dir(_built_index: Path, tmp_path: Path) -> Path:
    home = tmp_path / "index"
    shutil.copytree(_built_index, home)
    return home


@pytest.fixture(scope="session")
def sample_articles() -> tuple[Article, ...]:
    """The packaged sample corpus (394 real articles from five sources, some NFD), read as ingest reads it.

    Tests of properties on real text use it, or a small file under tests/fixtures/; nothing in tests/ reads
    ../shared/data, so the suite runs from a clone alone (whole-corpus checks live in bench/).
    """
    from searchsvc.ingest import read_sources
    from searchsvc.sample import SAMPLE_PATH

    items = list(read_sources([str(SAMPLE_PATH)]))
    articles = tuple(a for a in items if isinstance(a, Article))
    assert len(articles) == len(items) > 300
    return articles  # a tuple: shared by every test of the session, so nobody can change it


AppFactory = Callable[..., Flask]


def _make_app(index_dir: Path, **config: Any) -> Flask:
    from searchsvc.web.app import create_app

    # RELOAD_INTERVAL 0: a test sees an add/delete on its next request, not a second later.
    return create_app({"INDEX_DIR": str(index_dir), "TESTING": True, "RELOAD_INTERVAL": 0.0, **config})


@pytest.fixture
def make_app() -> AppFactory:
    """create_app for an index home with extra settings: ``make_app(index_dir, OPERATOR_TOKEN="x")``."""
    return _make_app


@pytest.fixture
def app(index_dir: Path) -> Flask:
    return _make_app(index_dir)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def sample_engine(sample_articles: tuple[Article, ...], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An engine over the packaged sample (built once per session; read-only for the tests that share it)."""
    from searchsvc.search.engine import Engine
    from searchsvc.store.writer import build_index

    home = tmp_path_factory.mktemp("sample") / "index"
    build_index(sample_articles, home, procs=1, quiet=True)
    return Engine.open(home, {"WARM_TERMS": 0})


# -------------------------------------------------------------------- the browser tests' server and Chromium

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

_SERVE = """
import sys
from werkzeug.serving import make_server
from searchsvc.web.app import create_app
server = make_server("127.0.0.1", 0, create_app({"INDEX_DIR": sys.argv[1], "TESTING": True}))
print(server.server_port, flush=True)
server.serve_forever()
"""


@contextmanager
def _serving(index_dir: Path) -> Iterator[str]:
    # A process of its own, served from its main thread: the search time limit is armed by a signal
    # alarm, which only a main thread can set, so a server thread here would answer 500.
    proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(index_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def serve_index() -> Callable[[Path], AbstractContextManager[str]]:
    """``with serve_index(index_dir) as base_url``: the real app over that index home, on loopback."""
    return _serving


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


SCREENSHOTS = Path(__file__).parent / "screenshots"


def shot(page: Any, name: str) -> None:
    """A full-page screenshot into tests/screenshots/, for people to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def rewrite_search(page: Any, **changes: Any) -> None:
    """Serves the real /api/search answer with some fields changed: the page's wording is under test."""
    def handler(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), **changes})
    page.route("**/api/search?**", handler)
