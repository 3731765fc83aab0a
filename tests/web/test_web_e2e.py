"""The reader's page and the editors' desk in a real browser (Debian's Chromium via Playwright).

The real app is served on a free loopback port over a real index built in ``tmp_path``; the tests
type, click and go back like a reader would and look at what the page shows. Every page also
records its requests, dialogs and console errors: any request to another host, any ``alert`` and
any CSP violation fails the test that caused it. Screenshots go to ``tests/screenshots/`` (ignored by git).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import CHROMIUM, rewrite_search, shot

from searchsvc.articles import VIETNAM_TZ, Article
from searchsvc.store.writer import build_index

TIMEOUT_MS = 10_000

if not Path(CHROMIUM).exists():
    # CI installs it (scripts/install-browser.sh); a developer without it gets a skip that says why.
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/install-browser.sh")
    pytest.skip(f"{CHROMIUM} is missing: run scripts/install-browser.sh", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def _day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 9, 30, tzinfo=VIETNAM_TZ)


def _article(id: str, title: str, lead: str, body: str, category: str, tags: tuple[str, ...],
             published: datetime | None, url: str = "") -> Article:
    return Article(id=id, title=title, lead=lead, body=body, category=category, tags=tags, author="Phóng viên",
                   published=published, url=url or f"https://tintuc.example.vn/{id}.html", source="example")


ARTICLES: tuple[Article, ...] = (
    _article("t1", "Trẻ em vùng cao đến trường", "Học sinh vùng cao vượt suối đến trường.",
             "Nhiều trẻ em phải đi bộ hàng giờ để đến lớp mỗi sáng.", "Giáo dục", ("Trẻ em", "Giáo dục"),
             _day(2024, 9, 5)),
    _article("t2", "Bảo vệ trẻ em trong mùa hè", "Các lớp dạy bơi miễn phí cho trẻ em.",
             "Mùa hè là lúc trẻ em dễ gặp tai nạn đuối nước.", "Xã hội", ("Trẻ em", "Sức khỏe"), _day(2024, 6, 1)),
    _article("t3", "Tiêm chủng cho trẻ em miễn phí", "Trẻ em dưới năm tuổi được tiêm chủng đầy đủ.",
             "Ngành y tế mở thêm điểm tiêm chủng cho trẻ em.", "Sức khỏe", ("Trẻ em", "Sức khỏe"), _day(2024, 3, 12)),
    _article("t4", "Sân chơi mới cho trẻ em thành phố", "Thành phố xây thêm sân chơi cho trẻ em.",
             "Các sân chơi được đặt gần khu dân cư đông trẻ em.", "Xã hội", ("Trẻ em",), _day(2023, 11, 20)),
    _article("t5", "Sách hay cho trẻ em dịp hè", "Gợi ý những cuốn sách cho trẻ em.",
             "Đọc sách giúp trẻ em phát triển ngôn ngữ.", "Giáo dục", ("Trẻ em", "Giáo dục"), _day(2023, 7, 2)),
    _article("t6", "Dinh dưỡng cho trẻ em tuổi đi học", "Bữa sáng đủ chất cho trẻ em.",
             "Chuyên gia khuyên trẻ em nên ăn đủ rau và sữa.", "Sức khỏe", ("Trẻ em", "Sức khỏe"), None),
    _article("x1", "<script>alert(1)</script> Cảnh báo mã độc", "Tin tặc chèn <img src=x onerror=alert(2)> vào trang.",
             "Đoạn <script>alert(1)</script> không được chạy trên trang tin.", "Công nghệ", ("<b>An ninh mạng</b>",),
             _day(2024, 8, 8), url="javascript:alert(3)"),
    _article("vnexpress-1993560", "Bóng đá Việt Nam thật tuyệt vời", "Đội tuyển bóng đá Việt Nam thắng trận.",
             "Người hâm mộ bóng đá Việt Nam xuống đường ăn mừng chiến thắng.", "Thể thao", ("Bóng đá",),
             _day(2024, 1, 15), url="https://vnexpress.net/bong-da-viet-nam-that-tuyet-voi-1993560.html"),
    _article("b2", "Bóng đá nữ Việt Nam giành huy chương", "Đội tuyển bóng đá nữ Việt Nam về nước.",
             "Các cầu thủ bóng đá nữ được chào đón ở sân bay.", "Thể thao", ("Bóng đá",), _day(2023, 12, 30)),
    _article("b3", "Sân bóng đá mới cho thanh niên", "Một sân bóng đá cỏ nhân tạo vừa khánh thành.",
             "Thanh niên trong xã có nơi chơi bóng đá mỗi chiều.", "Thể thao", ("Bóng đá", "Thanh niên"),
             _day(2024, 10, 1)),
    # Only a title and a body: no lead, tags, author, category, date or URL, as scraped pages often are.
    Article(id="g1", title="Giá vàng hôm nay tăng mạnh", body="Giá vàng trong nước tăng theo giá vàng thế giới."),
    Article(id="g2", title="Giá vàng thế giới lập đỉnh mới", body="Giá vàng thế giới lên cao nhất trong năm."),
)


# ------------------------------------------------------------------------------------ fixtures




@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, serve_index: Any) -> Iterator[str]:
    # The app is served by its own process from that process's main thread: Whoosh's alarm-based
    # search time limit can only be armed from a main thread, so a server thread here would 500.
    index_dir = tmp_path_factory.mktemp("web-index")
    build_index(ARTICLES, index_dir)
    with serve_index(index_dir) as url:
        yield url


@dataclass
class Watch:
    """What a page did besides rendering: every request URL, every dialog, every console error."""

    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _open(browser: Any, base_url: str, width: int, height: int) -> tuple[Any, Any, Watch]:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN",
                                  base_url=base_url, permissions=["clipboard-read", "clipboard-write"])
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch = Watch()
    page.on("request", lambda r: watch.requests.append(r.url))
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(str(e)))

    def dialog(d: Any) -> None:
        watch.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    return context, page, watch


def _check(watch: Watch, base_url: str) -> None:
    own = urlsplit(base_url).netloc
    foreign = [u for u in watch.requests if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != own]
    assert foreign == []
    assert watch.dialogs == []
    assert watch.errors == []


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    context, pg, watch = _open(browser, base_url, 1280, 900)
    pg.watch = watch
    yield pg
    context.close()
    _check(watch, base_url)


@pytest.fixture
def phone(browser: Any, base_url: str) -> Iterator[Any]:
    context, pg, watch = _open(browser, base_url, 390, 844)
    yield pg
    context.close()
    _check(watch, base_url)


def _query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _total(page: Any) -> int:
    text = page.locator("#status").inner_text()
    match = re.search(r"Tìm thấy ([\d.]+) kết quả", text)
    assert match, text
    return int(match.group(1).replace(".", ""))



def _search(page: Any, text: str) -> None:
    page.locator("#q").fill(text)
    page.locator("#q").press("Enter")
    expect(page.locator("#status")).to_contain_text("kết quả")


# Same value as API_TIMEOUT_MS in common.js: how long the pages wait for an answer.
API_TIMEOUT_MS = 20_000

# What the pages say for each code of the API's error shape, and for a request that never got one.
VIETNAMESE_ERRORS = {
    "bad_request": "Yêu cầu không hợp lệ",
    "not_found": "Không tìm thấy",
    "index_unavailable": "Kho tin tạm thời chưa sẵn sàng",
    "index_busy": "Kho tin đang bận cập nhật",
    "forbidden": "Bạn không có quyền",
    "internal_error": "Máy chủ gặp lỗi",
}


def _answer_error(status: int, code: str, message: str) -> Any:
    """A route handler answering in the API's error shape, with the server's English message."""
    return lambda route: route.fulfill(status=status, json={"error": {"code": code, "message": message}})


def _literal_nulls(page: Any) -> list[str]:
    """Every text node and attribute of the page that reads "null" or "undefined"."""
    return page.evaluate("""() => {
      const bad = /\\b(null|undefined)\\b/;
      const found = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) if (bad.test(n.data)) found.push(n.data);
      for (const node of document.body.querySelectorAll("*")) {
        for (const a of node.attributes) if (bad.test(a.value)) found.push(`${node.tagName} ${a.name}="${a.value}"`);
      }
      return found;
    }""")


# ------------------------------------------------------------------------------------ the reader's page


def test_query_without_diacritics_highlights_the_accented_text(page: Any) -> None:
    page.goto("/")
    expect(page.locator("#welcome")).to_be_visible()
    _search(page, "tre em")
    expect(page.locator("#hits .hit").first).to_be_visible()
    marks = page.locator("#hits mark").all_inner_texts()
    assert marks and {m.lower() for m in marks} <= {"trẻ", "em", "trẻ em"}
    assert "trẻ" in {m.lower() for m in marks}
    assert _query(page)["q"] == ["tre em"]
    assert _total(page) == 6
    # Dates in Vietnamese form, from the article's own (Vietnam) date.
    assert "05/09/2024" in page.locator("#hits time").all_inner_texts()
    shot(page, "reader-desktop")


def test_tag_facet_narrows_the_results_and_lands_in_the_url(page: Any) -> None:
    page.goto("/?q=tre+em")
    expect(page.locator("#hits .hit")).to_have_count(6)
    before = _total(page)
    facet = page.locator("#tag-facets label", has_text="Sức khỏe")
    expect(facet).to_contain_text("3")
    facet.click()
    expect(page).to_have_url(re.compile(r"tag=S%E1%BB%A9c"))
    expect(page.locator("#hits .hit")).to_have_count(3)
    assert _total(page) < before
    assert _query(page)["tag"] == ["Sức khỏe"]
    expect(page.locator("#tag-facets input:checked")).to_have_count(1)
    # Unticking brings every result back.
    page.locator("#tag-facets label", has_text="Sức khỏe").click()
    expect(page.locator("#hits .hit")).to_have_count(6)
    assert "tag" not in _query(page)


def test_paging_forward_and_back_with_the_browser(page: Any) -> None:
    page.goto("/?q=tre+em&per_page=2")
    expect(page.locator("#hits .hit")).to_have_count(2)
    first_page = page.locator("#hits .hit-title").all_inner_texts()
    expect(page.locator("#pager [aria-current=page]")).to_have_text("1")

    page.get_by_role("link", name="Trang sau").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.locator("#pager [aria-current=page]")).to_have_text("2")
    second_page = page.locator("#hits .hit-title").all_inner_texts()
    assert len(second_page) == 2 and not set(second_page) & set(first_page)
    assert page.evaluate("document.activeElement.id") == "results-heading"

    page.go_back()
    expect(page.locator("#pager [aria-current=page]")).to_have_text("1")
    assert "page" not in _query(page)
    assert page.locator("#hits .hit-title").all_inner_texts() == first_page
    page.go_forward()
    expect(page.locator("#pager [aria-current=page]")).to_have_text("2")
    assert page.locator("#hits .hit-title").all_inner_texts() == second_page


def test_sort_and_date_range_are_applied_and_shareable(page: Any) -> None:
    page.goto("/?q=tre+em")
    expect(page.locator("#hits .hit")).to_have_count(6)
    page.locator("#sort").select_option("newest")
    expect(page).to_have_url(re.compile(r"sort=newest"))
    page.locator("#from").fill("2024-01-01")
    expect(page).to_have_url(re.compile(r"from=2024-01-01"))
    expect(page.locator("#hits .hit")).to_have_count(3)
    dates = page.locator("#hits time").all_inner_texts()
    assert dates == ["05/09/2024", "01/06/2024", "12/03/2024"]
    # The same URL opened afresh shows the same state.
    url = page.url
    page.goto(url)
    expect(page.locator("#hits .hit")).to_have_count(3)
    expect(page.locator("#sort")).to_have_value("newest")
    expect(page.locator("#from")).to_have_value("2024-01-01")


def test_suggestions_appear_while_typing_and_work_from_the_keyboard(page: Any) -> None:
    page.goto("/")
    box = page.locator("#q")
    box.press_sequentially("bong d", delay=40)
    listbox = page.locator("#suggestions")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    options = listbox.get_by_role("option")
    assert options.count() >= 1
    assert any("Bóng đá" in t for t in options.all_inner_texts())
    box.press("ArrowDown")
    active = box.get_attribute("aria-activedescendant")
    assert active and page.locator(f"#{active}").get_attribute("aria-selected") == "true"
    shot(page, "reader-suggestions")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")

    # An article suggestion picked with the keyboard opens the article's page, as its result's title does.
    article_url = next(a.url for a in ARTICLES if a.id == "t4")
    page.route(article_url, lambda route: route.fulfill(body="<title>t4</title>", content_type="text/html"))
    box.fill("")
    box.press_sequentially("san choi", delay=40)
    article_option = listbox.locator("[data-kind=article]", has_text="Sân chơi mới")
    expect(article_option).to_be_visible()
    # Suggestions for each prefix typed arrive one after another on a loaded machine, and a new list resets
    # the selection: move down until the article is selected in the list that stays.
    for _ in range(30):
        if article_option.get_attribute("aria-selected") == "true":
            break
        box.press("ArrowDown")
        page.wait_for_timeout(50)
    expect(article_option).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(page).to_have_url(article_url)
    # Answered by the route above, so it never left the machine.
    page.watch.requests[:] = [u for u in page.watch.requests if u != article_url]


def test_markup_in_articles_is_shown_as_text_and_never_runs(page: Any) -> None:
    page.goto("/?q=canh+bao+ma+doc")
    hit = page.locator("#hits .hit").first
    expect(hit.locator(".hit-title")).to_contain_text("<script>alert(1)</script>")
    assert page.locator("#hits script, #hits img, #hits b").count() == 0
    # Its URL is javascript: so it is not a link.
    assert hit.locator(".hit-title a").count() == 0
    expect(hit.locator(".hit-tags")).to_contain_text("<b>An ninh mạng</b>")
    expect(page.locator("#tag-facets")).to_contain_text("<b>An ninh mạng</b>")
    # The raw snippet HTML carries the markup escaped.
    assert "&lt;" in hit.locator(".hit-snippet").inner_html()

    page.goto("/editor?id=x1")
    expect(page.locator("#source .hit-title")).to_have_text("<script>alert(1)</script> Cảnh báo mã độc")
    assert page.locator("#source script, #source img").count() == 0


# The notes about how results match (the "showing results for" line and did-you-mean are other notices).
NOTES = "#notices .notice:not(.interpreted):not(.dym)"


def test_did_you_mean_and_partial_match_notes(page: Any) -> None:
    page.goto("/?q=tre+em+bong+da")
    expect(page.locator(NOTES)).to_have_text(
        "Không có bài nào chứa đủ mọi từ khóa; dưới đây là các bài chứa nhiều từ khóa nhất.")
    # Two articles hold all of "bóng đá Việt Nam"; the rest only "bóng đá" or "Việt Nam".
    page.goto("/?q=bong+da+viet+nam")
    expect(page.locator("#status")).to_contain_text("Tìm thấy")
    expect(page.locator("#hits .hit")).to_have_count(_total(page))
    expect(page.locator(NOTES)).to_have_text(
        "2 bài đầu tiên chứa đủ mọi từ khóa; các bài từ thứ 3 trở đi chỉ chứa một phần từ khóa.")
    assert "Việt Nam" in page.locator("#hits .hit-title").nth(1).inner_text()
    # A question is ranked over all its words, not in tiers: the page claims no count.
    page.goto("/?q=tr%E1%BA%BB+em+c%E1%BA%A7n+g%C3%AC")
    expect(page.locator(NOTES)).to_have_text(
        "Kết quả được xếp theo mức liên quan với mọi từ khóa; có thể có bài chỉ chứa một phần từ khóa.")
    page.goto("/?q=tre+em")
    expect(page.locator("#hits .hit")).to_have_count(6)
    expect(page.locator(NOTES)).to_have_count(0)
    expect(page.locator("#notices .dym")).to_have_count(0)
    page.goto("/?q=bong+daa")
    dym = page.locator("#notices .dym")
    expect(dym).to_contain_text("Có phải bạn muốn tìm:")
    suggestion = dym.locator("a").inner_text()
    dym.locator("a").click()
    expect(page.locator("#q")).to_have_value(suggestion)
    assert _query(page)["q"] == [suggestion]
    expect(page.locator("#hits .hit").first).to_contain_text("Bóng đá")
    page.go_back()
    expect(page.locator("#q")).to_have_value("bong daa")


def test_empty_state(page: Any) -> None:
    page.goto("/?q=zzqxw+kkvvj")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#status")).to_have_text("Không tìm thấy kết quả nào.")
    expect(page.locator("#hits .hit")).to_have_count(0)
    expect(page.locator("#pager")).to_be_hidden()
    shot(page, "reader-empty")


def test_error_state_is_in_vietnamese_with_the_servers_message_as_a_detail(page: Any) -> None:
    # Past the deepest page the API serves (MAX_RESULT_WINDOW): the API answers 400, in English.
    page.goto("/?q=tre+em&per_page=50&page=21")
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error.locator(".error-message")).to_have_text(re.compile(VIETNAMESE_ERRORS["bad_request"]))
    expect(error.locator(".error-message")).not_to_contain_text("1000")
    expect(error.locator(".error-detail")).to_contain_text("1000")
    expect(error.locator(".error-detail [lang=en]")).to_contain_text("goes past result 1000")
    expect(page.locator("#hits .hit")).to_have_count(0)
    page.watch.errors.clear()  # the browser logs the 400 itself; that is the point of this test
    # A reversed date range is caught before asking the API, in Vietnamese.
    page.goto("/?q=tre+em&from=2024-05-01&to=2024-01-01")
    expect(error).to_contain_text("Ngày bắt đầu (01/05/2024) sau ngày kết thúc (01/01/2024)")
    shot(page, "reader-error")


@pytest.mark.parametrize(("status", "code"), [
    (400, "bad_request"), (404, "not_found"), (503, "index_unavailable"), (503, "index_busy"),
    (403, "forbidden"), (500, "internal_error"),
])
def test_reader_says_each_api_error_in_vietnamese(page: Any, status: int, code: str) -> None:
    english = f"the {code.replace('_', ' ')} message from the server"
    page.route("**/api/search?**", _answer_error(status, code, english))
    page.goto("/?q=tre+em")
    message = page.locator("#error .error-message")
    expect(message).to_contain_text(VIETNAMESE_ERRORS[code])
    expect(message).not_to_contain_text(english)
    expect(page.locator("#error .error-detail")).to_contain_text(english)
    if code == "index_busy":
        shot(page, "reader-error-busy")
    page.watch.errors.clear()  # the browser logs the failed request itself


def test_reader_says_network_failures_and_timeouts_in_vietnamese(page: Any) -> None:
    page.route("**/api/search?**", lambda route: route.abort("connectionrefused"))
    page.goto("/?q=tre+em")
    expect(page.locator("#error .error-message")).to_have_text("Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.")
    expect(page.locator("#error .error-detail")).to_have_count(0)
    page.unroute("**/api/search?**")

    # An answer that never comes: the page gives up after API_TIMEOUT_MS and says so.
    page.route("**/api/search?**", lambda route: None)
    page.clock.install()
    page.goto("/?q=bong+da")
    expect(page.locator("#status")).to_have_text("Đang tìm…")
    page.clock.run_for(API_TIMEOUT_MS - 1_000)
    expect(page.locator("#error")).to_be_hidden()
    page.clock.run_for(2_000)
    expect(page.locator("#error .error-message")).to_contain_text("Máy chủ phản hồi quá lâu")
    page.watch.errors.clear()



def test_partial_match_notice_says_how_many_results_hold_every_word(page: Any) -> None:
    rewrite_search(page, total=2500, all_words_matched=False, all_words_total=1234)
    page.goto("/?q=tre+em")
    expect(page.locator("#status")).to_contain_text("Tìm thấy 2.500 kết quả")
    notice = page.locator(NOTES)
    expect(notice).to_have_count(1)
    expect(notice).to_have_text(
        "1.234 bài đầu tiên chứa đủ mọi từ khóa; các bài từ thứ 1.235 trở đi chỉ chứa một phần từ khóa.")
    expect(notice).not_to_contain_text("Không có bài nào")


def test_partial_match_notice_when_no_result_holds_every_word(page: Any) -> None:
    rewrite_search(page, all_words_matched=False, all_words_total=0)
    page.goto("/?q=tre+em")
    expect(page.locator(NOTES)).to_have_text(
        "Không có bài nào chứa đủ mọi từ khóa; dưới đây là các bài chứa nhiều từ khóa nhất.")


def test_no_partial_match_notice_when_every_result_holds_every_word(page: Any) -> None:
    rewrite_search(page, all_words_matched=True, all_words_total=6)
    page.goto("/?q=tre+em")
    expect(page.locator("#hits .hit")).to_have_count(6)
    expect(page.locator(NOTES)).to_have_count(0)


def test_missing_fields_never_show_as_null_on_either_page(page: Any) -> None:
    # g1 and g2 have only a title and a body.
    page.goto("/editor?id=g1")
    expect(page.locator("#source")).to_contain_text("Giá vàng hôm nay tăng mạnh")
    expect(page.locator("#related .related-item").first).to_contain_text("Giá vàng thế giới lập đỉnh mới")
    assert _literal_nulls(page) == []
    page.goto("/?q=gia+vang+the+gioi")
    expect(page.locator("#hits .hit").first).to_contain_text("Giá vàng")
    assert _literal_nulls(page) == []


def test_clicking_a_tag_on_a_result_filters_by_it(page: Any) -> None:
    page.goto("/?q=bong+da")
    expect(page.locator("#hits .hit")).to_have_count(3)
    page.locator("#hits .hit-tags button", has_text="Thanh niên").click()
    expect(page.locator("#hits .hit")).to_have_count(1)
    assert _query(page)["tag"] == ["Thanh niên"]


def test_phone_layout(phone: Any) -> None:
    phone.goto("/?q=tre+em&per_page=3")
    expect(phone.locator("#hits .hit")).to_have_count(3)
    # Nothing wider than the screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    expect(phone.locator("#filters-panel")).not_to_have_attribute("open", "")
    shot(phone, "reader-phone")
    phone.goto("/editor?id=t2")
    expect(phone.locator("#related .related-item").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "editor-phone")


# ------------------------------------------------------------------------ the reader's related stories

# The fixture's stories about children: whatever the ranking does, these are related to one another.
CHILDREN = {a.id: a.title for a in ARTICLES if "Trẻ em" in a.tags}
RELATED_API = "**/api/articles/*/related?**"


def _hit(page: Any, title: str) -> Any:
    return page.locator("#hits .hit").filter(has=page.locator(".hit-title", has_text=title))


def _related_button(hit: Any) -> Any:
    return hit.get_by_role("button", name="Bài liên quan")


def _panel(page: Any, button: Any) -> Any:
    controls = button.get_attribute("aria-controls")
    assert controls, "the button names the list it opens"
    return page.locator(f"[id='{controls}']")


def _open_related(page: Any, title: str) -> tuple[Any, Any]:
    button = _related_button(_hit(page, title))
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    panel = _panel(page, button)
    expect(panel).to_be_visible()
    return button, panel


def test_related_stories_open_under_the_hit_and_close_again(page: Any) -> None:
    page.goto("/?q=tre+em")
    expect(page.locator("#hits .hit")).to_have_count(6)
    # Readers stay on the reader's page: no hit sends them to the editors' desk.
    assert page.locator("#hits a[href*='/editor']").count() == 0
    hit = _hit(page, CHILDREN["t1"])
    button = _related_button(hit)
    expect(button).to_have_attribute("aria-expanded", "false")
    panel = _panel(page, button)
    expect(panel).to_be_hidden()

    with page.expect_request(re.compile(r"/api/articles/t1/related\?limit=5$")):
        button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(panel).to_be_visible()
    # The list is under that hit, not somewhere else on the page.
    assert hit.locator(f"[id='{button.get_attribute('aria-controls')}']").count() == 1
    stories = panel.locator(".related-story")
    expect(stories.first).to_be_visible()
    assert 1 <= stories.count() <= 5
    titles = stories.locator(".related-title").all_inner_texts()
    assert CHILDREN["t1"] not in titles
    assert set(titles) & set(CHILDREN.values())
    # Each title links to the story itself.
    links = panel.locator(".related-title a")
    expect(links.first).to_be_visible()
    hrefs = links.evaluate_all("els => els.map(e => e.href)")
    assert all(h.startswith("https://tintuc.example.vn/") for h in hrefs)
    assert "https://tintuc.example.vn/t1.html" not in hrefs
    # Why each is related, as chips: every one of them shares the "Trẻ em" tag with t1.
    assert "Trẻ em" in panel.locator(".related-story").first.locator(".chip").all_inner_texts()
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", panel.locator("time").first.inner_text())
    assert _literal_nulls(page) == []
    shot(page, "reader-related")

    button.click()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(panel).to_be_hidden()


def test_related_stories_open_and_close_from_the_keyboard(page: Any) -> None:
    page.goto("/?q=tre+em")
    button = _related_button(_hit(page, CHILDREN["t2"]))
    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    panel = _panel(page, button)
    expect(panel.locator(".related-story").first).to_be_visible()
    # Tab reaches the first related story's link.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.related-story') !== null")
    button.focus()
    page.keyboard.press("Space")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(panel).to_be_hidden()
    assert page.evaluate("document.activeElement.textContent") == "Bài liên quan"


def test_a_second_hits_related_list_leaves_the_first_alone(page: Any) -> None:
    page.goto("/?q=tre+em")
    first_button, first = _open_related(page, CHILDREN["t1"])
    expect(first.locator(".related-story").first).to_be_visible()
    first_titles = first.locator(".related-title").all_inner_texts()
    second_button, second = _open_related(page, CHILDREN["t3"])
    expect(second.locator(".related-story").first).to_be_visible()
    assert first_button.get_attribute("aria-controls") != second_button.get_attribute("aria-controls")
    # Both open at once, each with its own list.
    expect(first).to_be_visible()
    assert first.locator(".related-title").all_inner_texts() == first_titles
    assert CHILDREN["t3"] not in second.locator(".related-title").all_inner_texts()
    # Closing the second leaves the first open.
    second_button.click()
    expect(second).to_be_hidden()
    expect(first).to_be_visible()
    expect(first_button).to_have_attribute("aria-expanded", "true")
    assert first.locator(".related-title").all_inner_texts() == first_titles


def test_related_list_says_when_nothing_is_related(page: Any) -> None:
    page.route(RELATED_API, lambda route: route.fulfill(json={"id": "t1", "related": []}))
    page.goto("/?q=tre+em")
    _, panel = _open_related(page, CHILDREN["t1"])
    expect(panel).to_have_text("Không tìm thấy bài liên quan.")
    expect(panel.locator(".related-story")).to_have_count(0)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#hits .hit")).to_have_count(6)


@pytest.mark.parametrize("failure", ["500", "network"])
def test_related_list_says_a_failure_in_vietnamese(page: Any, failure: str) -> None:
    english = "internal error; the server log has the details"
    if failure == "500":
        page.route(RELATED_API, _answer_error(500, "internal_error", english))
        expected = VIETNAMESE_ERRORS["internal_error"]
    else:
        page.route(RELATED_API, lambda route: route.abort("connectionrefused"))
        expected = "Không kết nối được máy chủ"
    page.goto("/?q=tre+em")
    _, panel = _open_related(page, CHILDREN["t1"])
    expect(panel.locator(".error-message")).to_contain_text(expected)
    expect(panel.locator(".error-message")).not_to_contain_text(english)
    expect(panel.locator(".related-story")).to_have_count(0)
    # The search results themselves are untouched.
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#hits .hit")).to_have_count(6)
    # Once the server answers again, the same button brings the list.
    page.unroute(RELATED_API)
    button = _related_button(_hit(page, CHILDREN["t1"]))
    button.click()
    expect(panel).to_be_hidden()
    button.click()
    expect(panel.locator(".related-story").first).to_be_visible()
    expect(panel.locator(".error-message")).to_have_count(0)
    page.watch.errors.clear()  # the browser logs the failed request itself


def test_a_late_related_answer_is_ignored(page: Any) -> None:
    held: list[Any] = []

    def hold_the_first(route: Any) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route(RELATED_API, hold_the_first)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url) if "/related" in r.url else None)
    page.goto("/?q=tre+em")
    button = _related_button(_hit(page, CHILDREN["t1"]))
    button.click()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    button.click()  # closed before the answer came
    button.click()  # and opened again: a fresh request, answered at once
    panel = _panel(page, button)
    expect(panel.locator(".related-story").first).to_be_visible()
    fresh = panel.locator(".related-title").all_inner_texts()
    # Now the first answer arrives, late; it must not replace the list.
    stale = {"id": "t1", "related": [{"id": "old", "title": "Câu trả lời cũ", "url": "https://tintuc.example.vn/old.html",
                                      "published": None, "shared_terms": [], "shared_tags": []}]}
    try:
        held[0].fulfill(json=stale)
    except Exception:  # noqa: BLE001 - the page already gave up on that request, as it should
        pass
    page.wait_for_timeout(300)
    expect(panel).not_to_contain_text("Câu trả lời cũ")
    assert panel.locator(".related-title").all_inner_texts() == fresh
    # The page gave up on the first request instead of merely ignoring its answer.
    assert len(failed) >= 1


def test_related_stories_without_url_or_date_show_no_null(page: Any) -> None:
    # g1 and g2 have only a title and a body: g2 is related to g1 but has no URL to link to.
    page.goto("/?q=gia+vang+hom+nay")
    _, panel = _open_related(page, "Giá vàng hôm nay tăng mạnh")
    story = panel.locator(".related-story", has_text="Giá vàng thế giới lập đỉnh mới")
    expect(story).to_be_visible()
    assert story.locator("a").count() == 0
    assert story.locator("time").count() == 0
    assert _literal_nulls(page) == []


def test_related_stories_fit_a_phone(phone: Any) -> None:
    phone.goto("/?q=tre+em&per_page=3")
    expect(phone.locator("#hits .hit")).to_have_count(3)
    button = _related_button(phone.locator("#hits .hit").first)
    button.click()
    panel = _panel(phone, button)
    expect(panel.locator(".related-story").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "reader-related-phone")


# ------------------------------------------------------------------------------------ the editors' desk


def test_editor_related_by_id_with_reasons_order_and_copy(page: Any) -> None:
    page.goto("/editor")
    page.locator("#ref").fill("t2")
    page.get_by_role("button", name="Xem bài liên quan").click()
    expect(page.locator("#source")).to_contain_text("Bảo vệ trẻ em trong mùa hè")
    items = page.locator("#related .related-item")
    expect(items.first).to_be_visible()
    assert "t2" not in page.locator("#related a").evaluate_all("els => els.map(e => e.href)")
    expect(page.locator("#related .why").first).to_contain_text("Thẻ chung")
    assert "Trẻ em" in page.locator("#related .chip-tag").all_inner_texts()
    expect(page).to_have_url(re.compile(r"/editor\?id=t2$"))

    page.get_by_label("Mới nhất trước").check()
    dates = page.locator("#related time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert dates == sorted(dates, reverse=True)

    page.locator("#related .copy").first.click()
    expect(page.locator("#copy-status")).to_contain_text("chép")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("https://")
    shot(page, "editor-desktop")


def test_editor_lookup_by_url(page: Any) -> None:
    page.goto("/editor")
    page.locator("#ref").fill("https://www.vnexpress.net/bong-da-viet-nam-that-tuyet-voi-1993560.html?utm=x")
    page.locator("#ref").press("Enter")
    expect(page.locator("#source")).to_contain_text("vnexpress-1993560")
    expect(page.locator("#related .related-item").first).to_contain_text("Bóng đá")
    page.locator("#ref").fill("https://tintuc.example.vn/khong-co-bai-nay-42.html")
    page.locator("#ref").press("Enter")
    expect(page.locator("#error")).to_contain_text("Không tìm thấy bài nào có đường dẫn này")
    page.watch.errors.clear()  # the 404s of the id guesses


def test_editor_draft_and_back_between_articles(page: Any) -> None:
    page.goto("/editor")
    page.locator("#draft-title").fill("Đội tuyển bóng đá chuẩn bị giải mới")
    page.locator("#draft-body").fill("Huấn luyện viên gọi thêm cầu thủ trẻ cho đội tuyển bóng đá Việt Nam.")
    page.get_by_role("button", name="Tìm bài liên quan cho bản nháp").click()
    expect(page.locator("#related .related-item").first).to_contain_text("Bóng đá")
    expect(page.locator("#source")).to_be_hidden()

    page.goto("/editor?id=t1")
    expect(page.locator("#source")).to_contain_text("Trẻ em vùng cao")
    page.locator("#related .related-item a", has_text="Xem bài liên quan của bài này").first.click()
    expect(page).not_to_have_url(re.compile(r"id=t1$"))
    page.go_back()
    expect(page.locator("#source")).to_contain_text("Trẻ em vùng cao")


def _show_t2(page: Any) -> None:
    page.goto("/editor?id=t2")
    expect(page.locator("#source")).to_contain_text("Bảo vệ trẻ em trong mùa hè")
    expect(page.locator("#related .related-item").first).to_be_visible()


def _desk_is_cleared(page: Any) -> None:
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#source")).to_be_hidden()
    expect(page.locator("#related .related-item")).to_have_count(0)
    expect(page.locator("#order")).to_be_hidden()
    assert "Bảo vệ trẻ em trong mùa hè" not in page.locator("main").inner_text()


def test_editor_unknown_id_clears_the_previous_article(page: Any) -> None:
    _show_t2(page)
    page.locator("#ref").fill("khong-co-bai-nay")
    page.locator("#ref").press("Enter")
    _desk_is_cleared(page)
    expect(page.locator("#error .error-message")).to_have_text(
        "Không có bài nào mang mã «khong-co-bai-nay» trong kho tin.")
    shot(page, "editor-error")
    # The address names what the desk failed to find; back brings the previous article again.
    expect(page).to_have_url(re.compile(r"/editor\?id=khong-co-bai-nay$"))
    page.go_back()
    expect(page.locator("#source")).to_contain_text("Bảo vệ trẻ em trong mùa hè")
    expect(page.locator("#error")).to_be_hidden()
    page.watch.errors.clear()  # the 404


@pytest.mark.parametrize("failure", ["article 500", "article network", "related 500", "related network"])
def test_editor_failed_lookup_clears_the_previous_article(page: Any, failure: str) -> None:
    _show_t2(page)
    what, how = failure.split()
    pattern = "**/api/articles/t1" if what == "article" else "**/api/articles/t1/related?**"
    if how == "500":
        page.route(pattern, _answer_error(500, "internal_error", "internal error; the server log has the details"))
    else:
        page.route(pattern, lambda route: route.abort("connectionrefused"))
    page.locator("#ref").fill("t1")
    page.get_by_role("button", name="Xem bài liên quan").click()
    _desk_is_cleared(page)
    assert "Trẻ em vùng cao" not in page.locator("main").inner_text()
    expected = VIETNAMESE_ERRORS["internal_error"] if how == "500" else "Không kết nối được máy chủ"
    expect(page.locator("#error .error-message")).to_contain_text(expected)
    page.watch.errors.clear()


def test_editor_says_when_nothing_is_related(page: Any) -> None:
    _show_t2(page)
    # "chào" alone is in the index (b2: "được chào đón"): one word in common is no related story.
    page.locator("#draft-title").fill("xin chào")
    page.get_by_role("button", name="Tìm bài liên quan cho bản nháp").click()
    empty = page.locator("#related-empty")
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("Không tìm thấy bài liên quan.")
    expect(page.locator("#related .related-item")).to_have_count(0)
    expect(page.locator("#source")).to_be_hidden()
    expect(page.locator("#order")).to_be_hidden()
    shot(page, "editor-nothing-related")
    # A draft with related stories hides the message again.
    page.locator("#draft-title").fill("Đội tuyển bóng đá chuẩn bị giải mới")
    page.get_by_role("button", name="Tìm bài liên quan cho bản nháp").click()
    expect(page.locator("#related .related-item").first).to_be_visible()
    expect(empty).to_be_hidden()
