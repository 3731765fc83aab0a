from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from searchsvc.articles import Article, Rejected, Superseded
from searchsvc.ingest import read_sources
from searchsvc.ingest.jsonl import NOT_UTF8
from searchsvc.ingest.scraped import read_page

# A copy of ../shared/data/seed/ (tests/fixtures/README.md): the reference scraped-page layout.
SEED_DIR = Path(__file__).parents[1] / "fixtures" / "seed"
SEED = SEED_DIR / "000_fcc6f392bfe5f811.txt"
LIMIT = 1_000_000

PAGE = """Thể thao
Trang chủ / Thể thao / Bóng đá
Tiêu đề thử
09:05 AM 01/02/2019
(LĐXH) - Sapo của bài.

Đoạn đầu tiên của bài.

Chú thích ảnh

Đoạn cuối của bài.

Hà Anh

TAG: bóng đá, V-League
Tin khác
Một bài khác hoàn toàn
"""


def test_seed_page_every_field() -> None:
    article = read_page(SEED, LIMIT)
    assert isinstance(article, Article)
    assert article.id == "000_fcc6f392bfe5f811"
    assert article.title == "Huy động nguồn lực để thực hiện chính sách cho trẻ em ở Nam Định"
    assert article.category == "Trẻ em"
    assert article.published == datetime(2018, 11, 30, 15, 21, tzinfo=timezone(timedelta(hours=7)))
    assert article.published.astimezone(UTC) == datetime(2018, 11, 30, 8, 21, tzinfo=UTC)
    assert article.lead.startswith("(LĐXH) - Tỉnh Nam Định hiện có trên 498.000 trẻ em")
    assert article.source == "LĐXH"
    assert article.author == "Khánh Linh"
    assert article.tags == ()
    assert article.url == ""
    assert article.body.startswith("Đến thời điểm này, toàn tỉnh Nam Định có 244 cán bộ")
    assert "\n\nThăm khám sức khỏe cho trẻ em có hoàn cảnh khó khăn\n\n" in article.body
    assert article.body.endswith("trẻ em có nguy cơ rơi vào hoàn cảnh đặc biệt.")
    assert article.body.count("\n\n") == 5  # six paragraphs, two of them photo captions
    for leaked in ("Cù Lao Dung", "Tin khác", "TAG:", "Khánh Linh", "Hội thảo thúc đẩy"):
        assert leaked not in article.body and leaked not in article.lead


def test_seed_folder_through_read_sources() -> None:
    assert list(read_sources([str(SEED_DIR)])) == [read_page(SEED, LIMIT)]


def test_tags_author_and_sidebar(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text(PAGE, encoding="utf-8")
    article = read_page(tmp_path / "p.txt", LIMIT)
    assert isinstance(article, Article)
    assert article.tags == ("bóng đá", "V-League")
    assert article.author == "Hà Anh"
    assert article.body == "Đoạn đầu tiên của bài.\n\nChú thích ảnh\n\nĐoạn cuối của bài."
    assert article.published == datetime(2019, 2, 1, 9, 5, tzinfo=timezone(timedelta(hours=7)))


def test_crlf_page_and_no_byline(tmp_path: Path) -> None:
    page = PAGE.replace("Hà Anh\n\n", "").replace("\n", "\r\n")
    (tmp_path / "p.txt").write_bytes(page.encode("utf-8"))
    article = read_page(tmp_path / "p.txt", LIMIT)
    assert isinstance(article, Article)
    assert article.author == ""
    assert article.body.endswith("Đoạn cuối của bài.") and "\r" not in article.body


def test_lead_without_source_mark(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text(PAGE.replace("(LĐXH) - ", ""), encoding="utf-8")
    article = read_page(tmp_path / "p.txt", LIMIT)
    assert isinstance(article, Article) and article.source == "" and article.lead == "Sapo của bài."


def test_pages_that_do_not_fit_are_rejected_whole(tmp_path: Path) -> None:
    pages = {
        "a_short.txt": "Thể thao\nTrang chủ / Thể thao\n",
        "b_time.txt": PAGE.replace("09:05 AM 01/02/2019", "hôm qua"),
        "c_crumb.txt": PAGE.replace("Trang chủ / Thể thao / Bóng đá", "Bóng đá"),
        "d_notag.txt": PAGE.replace("TAG: bóng đá, V-League\n", ""),
        "e_good.txt": PAGE,
    }
    for name, text in pages.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "f_cp1258.txt").write_bytes(PAGE.replace("ố", "ô\u0301").encode("cp1258", errors="replace"))
    (tmp_path / "ignored.md").write_text("not a page", encoding="utf-8")
    items = list(read_sources([str(tmp_path)]))
    reasons = [(Path(i.source).name, i.line, i.reason.split(":")[0]) for i in items if isinstance(i, Rejected)]
    assert reasons == [
        ("a_short.txt", 0, "not a scraped page"),
        ("b_time.txt", 0, "not a scraped page"),
        ("c_crumb.txt", 0, "not a scraped page"),
        ("d_notag.txt", 0, "not a scraped page"),
        ("f_cp1258.txt", 0, NOT_UTF8.split(":")[0]),
    ]
    full = {Path(i.source).name: i.reason for i in items if isinstance(i, Rejected)}
    assert "line 4" in full["b_time.txt"] and "TAG:" in full["d_notag.txt"]
    assert [i.id for i in items if isinstance(i, Article)] == ["e_good"]


def test_duplicate_page_id_across_folders(tmp_path: Path) -> None:
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "p.txt").write_text(PAGE, encoding="utf-8")
    items = list(read_sources([str(tmp_path / "one"), str(tmp_path / "two")]))
    assert isinstance(items[0], Article)
    assert items[1] == Superseded(
        str(tmp_path / "one" / "p.txt"), 0, "p", f"id 'p' appears again in {tmp_path / 'two' / 'p.txt'}; "
        "the later copy is indexed"
    )
    assert isinstance(items[2], Article)


def test_a_single_page_is_a_source(tmp_path: Path) -> None:
    page = tmp_path / "p.txt"
    page.write_text(PAGE, encoding="utf-8")
    other = tmp_path / "p.page"
    other.write_text(PAGE, encoding="utf-8")
    for source, fmt in ((page, None), (page, "scraped"), (other, "scraped")):
        items = list(read_sources([str(source)], fmt))
        assert len(items) == 1 and isinstance(items[0], Article) and items[0].id == "p", (source, fmt)
