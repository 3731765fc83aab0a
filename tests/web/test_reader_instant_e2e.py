"""The reader's page answering as one types, saying how it read the query, and its suggestion kinds.

A real browser (Debian's Chromium via Playwright) on the real app, served by its own process over an
index of the packaged sample (394 real articles) built in ``tmp_path``. As in ``test_web_e2e.py``,
every page fails its test on a request to another host, a dialog or a console error. Where the page's
wording or its handling of timing is under test, ``page.route`` holds or rewrites an answer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import CHROMIUM, rewrite_search, shot

from searchsvc.articles import Article
from searchsvc.ingest import read_sources
from searchsvc.sample import SAMPLE_PATH
from searchsvc.store.writer import build_index

TIMEOUT_MS = 10_000
ARTICLE_HOST = "tintuc.example.vn"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/install-browser.sh")
    pytest.skip(f"{CHROMIUM} is missing: run scripts/install-browser.sh", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect



@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, serve_index: Any) -> Iterator[str]:
    # Its own process, served from its main thread: the search time limit is armed by a signal alarm.
    index_dir = tmp_path_factory.mktemp("sample-index")
    build_index([a for a in read_sources([str(SAMPLE_PATH)]) if isinstance(a, Article)], index_dir, procs=1, quiet=True)
    with serve_index(index_dir) as url:
        yield url


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN", base_url=base_url)
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    pg.requests, pg.failed, pg.problems = [], [], []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("requestfailed", lambda r: pg.failed.append(r.url))
    pg.on("console", lambda m: pg.problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    pg.on("dialog", lambda d: (pg.problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield pg
    context.close()
    own = urlsplit(base_url).netloc
    # The article host is fulfilled by the test that opens an article; nothing else may leave.
    assert [u for u in pg.requests if urlsplit(u).netloc not in (own, ARTICLE_HOST) and u.startswith("http")] == []
    assert pg.problems == []


def _query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _searches(page: Any) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(u).query) for u in page.requests if urlsplit(u).path == "/api/search"]




# ------------------------------------------------------------------------------------ instant results


def test_typing_updates_results_and_url_without_enter(page: Any) -> None:
    page.goto("/")
    expect(page.locator("#welcome")).to_be_visible()
    box = page.locator("#q")
    box.press_sequentially("tre em", delay=300)  # slower than the debounce: the prefixes are searched too
    expect(page).to_have_url(re.compile(r"\?q=tre\+em$"))
    expect(page.locator("#status")).to_contain_text("kết quả cho «tre em»")
    expect(page.locator("#hits .hit").first).to_be_visible()
    expect(page.locator("#welcome")).to_be_hidden()
    # The box keeps what is typed (the space between the words was not trimmed away under the reader).
    expect(box).to_have_value("tre em")
    assert any(s.get("q") == ["tre"] for s in _searches(page))
    assert page.title().startswith("tre em")

    # Enter makes the typed search the entry; a second query typed after it is a new entry of its own.
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"\?q=tre\+em$"))
    box.fill("")
    box.press_sequentially("bong da", delay=60)
    expect(page).to_have_url(re.compile(r"\?q=bong\+da$"))
    expect(page.locator("#status")).to_contain_text("«bong da»")
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?q=tre\+em$"))
    expect(box).to_have_value("tre em")
    expect(page.locator("#status")).to_contain_text("«tre em»")
    # The prefixes typed on the way ("t", "tr", ...) left no entries behind.
    page.go_back()
    expect(page.locator("#welcome")).to_be_visible()
    assert "q" not in _query(page)


def test_an_emptied_box_clears_the_results(page: Any) -> None:
    page.goto("/?q=bong+da")
    expect(page.locator("#hits .hit").first).to_be_visible()
    page.locator("#q").fill("")
    expect(page.locator("#welcome")).to_be_visible()
    expect(page.locator("#hits .hit")).to_have_count(0)
    expect(page.locator("#status")).to_have_text("")
    expect(page).to_have_url(re.compile(r"/$"))


def test_enter_searches_at_once_without_waiting_for_the_pause(page: Any) -> None:
    page.goto("/")
    # Typed and submitted in one tick of the page: on a loaded machine two separate steps can be more than
    # the debounce apart, and then the pause has already searched before Enter arrives.
    page.locator("#q").evaluate("""box => {
        box.value = "ha noi";
        box.dispatchEvent(new Event("input", {bubbles: true}));
        box.form.requestSubmit();
    }""")
    expect(page.locator("#status")).to_contain_text("«ha noi»")
    page.wait_for_timeout(600)  # past the debounce: Enter cancelled it, so no second request follows
    assert [s["q"] for s in _searches(page)] == [["ha noi"]]


def test_a_stale_slow_answer_is_never_shown(page: Any) -> None:
    held: list[Any] = []

    def handler(route: Any) -> None:
        if parse_qs(urlsplit(route.request.url).query).get("q") == ["giao duc"]:
            held.append(route)  # answered only after the newer query has been shown
        else:
            route.continue_()
    page.route("**/api/search?**", handler)
    page.goto("/")
    box = page.locator("#q")
    box.fill("giao duc")
    expect(page.locator("#status")).to_have_text("Đang tìm…")
    for _ in range(50):  # the route handler runs on Playwright's side of the wire, a moment later
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1
    box.fill("bong da")
    expect(page.locator("#status")).to_contain_text("«bong da»")
    newer = page.locator("#hits .hit-title").all_inner_texts()
    assert newer
    # The older request was cancelled by the page; answering it now must change nothing.
    stale = {"q": "giao duc", "total": 1, "took_ms": 1, "hits": [{"id": "stale", "title": "CÂU TRẢ LỜI CŨ"}],
             "facets": {}, "did_you_mean": None, "interpreted_as": None}
    try:
        held[0].fulfill(json=stale)
    except sync_api.Error:
        pass  # the browser already dropped the cancelled request
    page.wait_for_timeout(300)
    assert any("q=giao+duc" in u for u in page.failed)
    expect(page.locator("#status")).to_contain_text("«bong da»")
    assert page.locator("#hits .hit-title").all_inner_texts() == newer
    assert _query(page)["q"] == ["bong da"]


# ------------------------------------------------------------------------------------ "showing results for"


def test_interpreted_as_line_and_the_verbatim_link(page: Any) -> None:
    page.goto("/?q=tre+em")
    line = page.locator("#notices .interpreted")
    expect(line).to_have_text("Kết quả cho trẻ em · Tìm đúng như đã gõ: tre em")
    expect(line.locator("b")).to_have_text("trẻ em")
    shot(page, "reader-interpreted")
    line.get_by_role("link", name="tre em").click()
    expect(page).to_have_url(re.compile(r"verbatim=1"))
    assert _query(page)["q"] == ["tre em"]
    expect(line).to_contain_text("Kết quả đúng như đã gõ: tre em")
    assert _searches(page)[-1].get("verbatim") == ["1"]
    expect(line.locator("b")).to_have_text("tre em")

    # A page opened with verbatim=1 keeps it; Back returns to the restored reading.
    page.reload()
    expect(line).to_contain_text("Kết quả đúng như đã gõ")
    assert _searches(page)[-1].get("verbatim") == ["1"]
    page.go_back()
    expect(line).to_have_text("Kết quả cho trẻ em · Tìm đúng như đã gõ: tre em")
    assert "verbatim" not in _searches(page)[-1]

    # Typing a new query drops verbatim.
    page.goto("/?q=tre+em&verbatim=1")
    expect(line).to_contain_text("Kết quả đúng như đã gõ")
    page.locator("#q").press("End")
    page.locator("#q").press_sequentially(" nho", delay=60)
    expect(page).to_have_url(re.compile(r"q=tre\+em\+nho$"))
    expect(page.locator("#status")).to_contain_text("«tre em nho»")
    assert "verbatim" not in _searches(page)[-1]


def test_no_interpreted_line_for_a_query_read_as_typed(page: Any) -> None:
    page.goto("/?q=tr%E1%BA%BB+em")
    expect(page.locator("#hits .hit").first).to_be_visible()
    expect(page.locator("#notices .interpreted")).to_have_count(0)


def test_did_you_mean_beside_the_interpreted_line_unless_it_says_the_same(page: Any) -> None:
    rewrite_search(page, interpreted_as="trẻ em", did_you_mean="Trẻ Em", all_words_matched=False, all_words_total=0)
    page.goto("/?q=tre+em")
    expect(page.locator("#notices .interpreted")).to_contain_text("Kết quả cho trẻ em")
    expect(page.locator("#notices .dym")).to_have_count(0)
    expect(page.locator("#notices .notice:not(.interpreted)")).to_have_text(
        "Không có bài nào chứa đủ mọi từ khóa; dưới đây là các bài chứa nhiều từ khóa nhất.")
    page.unroute("**/api/search?**")
    rewrite_search(page, interpreted_as="trẻ em", did_you_mean="trẻ em nhỏ")
    page.goto("/?q=tre+em")
    expect(page.locator("#notices .notice")).to_have_count(2)
    expect(page.locator("#notices .dym a")).to_have_text("trẻ em nhỏ")


def test_the_interpreted_line_is_text_never_html(page: Any) -> None:
    rewrite_search(page, interpreted_as='<img src=x onerror="alert(1)">trẻ')
    page.goto("/?q=%3Cb%3Etre%3C%2Fb%3E")
    line = page.locator("#notices .interpreted")
    expect(line).to_have_text('Kết quả cho <img src=x onerror="alert(1)">trẻ · Tìm đúng như đã gõ: <b>tre</b>')
    assert line.locator("img").count() == 0 and line.locator("a b").count() == 0


# ------------------------------------------------------------------------------------ suggestion kinds

SUGGESTIONS = {"q": "tre", "suggestions": [
    {"text": "trẻ em", "kind": "completion"}, {"text": "trẻ hóa", "kind": "completion"},
    {"text": "Giáo dục", "kind": "tag"},
    {"text": "Sân chơi <i>mới</i> cho trẻ em", "kind": "article", "id": "a9", "url": f"https://{ARTICLE_HOST}/a9.html"},
]}


def _open_suggestions(page: Any) -> Any:
    page.locator("#q").fill("")
    page.locator("#q").press_sequentially("tre", delay=40)
    listbox = page.locator("#suggestions")
    expect(listbox.get_by_role("option")).to_have_count(4)
    return listbox


def test_suggestion_kinds_are_grouped_and_each_does_its_own_thing(page: Any) -> None:
    page.route("**/api/suggest?**", lambda route: route.fulfill(json=SUGGESTIONS))
    page.route(f"https://{ARTICLE_HOST}/**",
               lambda route: route.fulfill(body="<title>bài</title>", content_type="text/html"))
    page.goto("/")
    listbox = _open_suggestions(page)
    groups = listbox.get_by_role("group")
    labels = [page.locator(f"#{g.get_attribute('aria-labelledby')}").text_content() for g in groups.all()]
    assert labels == ["Gợi ý tìm kiếm", "Thẻ", "Bài viết"]
    expect(groups.nth(0).get_by_role("option")).to_have_text(["trẻ em", "trẻ hóa"])
    expect(listbox.get_by_role("option").nth(3)).to_have_text("Sân chơi <i>mới</i> cho trẻ em")
    assert listbox.locator("i").count() == 0
    shot(page, "reader-suggestion-kinds")

    # A completion fills the box and searches.
    listbox.get_by_role("option", name="trẻ em", exact=True).click()
    expect(page.locator("#q")).to_have_value("trẻ em")
    expect(page.locator("#status")).to_contain_text("«trẻ em»")
    assert _query(page)["q"] == ["trẻ em"]

    # A tag, chosen from the keyboard, filters by the tag as a tag chip does.
    listbox = _open_suggestions(page)
    for _ in range(3):
        page.locator("#q").press("ArrowDown")
    expect(listbox.get_by_role("option", name="Giáo dục")).to_have_attribute("aria-selected", "true")
    page.locator("#q").press("Enter")
    expect(page).to_have_url(re.compile(r"tag=Gi%C3%A1o"))
    assert "q" not in _query(page)
    expect(page.locator("#q")).to_have_value("")
    expect(page.locator("#tag-facets input:checked")).to_have_count(1)

    # An article opens its page, as a result's title does.
    listbox = _open_suggestions(page)
    listbox.get_by_role("option", name=re.compile("Sân chơi")).click()
    expect(page).to_have_url(f"https://{ARTICLE_HOST}/a9.html")


def test_an_article_without_a_safe_url_is_searched_for(page: Any) -> None:
    answer = {"q": "tre", "suggestions": [
        {"text": "Bài không có trang", "kind": "article", "id": "z", "url": "javascript:alert(1)"}]}
    page.route("**/api/suggest?**", lambda route: route.fulfill(json=answer))
    page.goto("/")
    page.locator("#q").press_sequentially("tre", delay=40)
    page.locator("#suggestions").get_by_role("option", name="Bài không có trang").click()
    expect(page.locator("#q")).to_have_value("Bài không có trang")
    assert _query(page)["q"] == ["Bài không có trang"]


def test_the_sample_completes_bong_d_as_bong_da_then_tags_then_articles(page: Any) -> None:
    page.goto("/")
    page.locator("#q").press_sequentially("bong d", delay=40)
    listbox = page.locator("#suggestions")
    first = listbox.get_by_role("option").first
    expect(first).to_have_text("bóng đá")
    kinds = [o.get_attribute("data-kind") for o in listbox.get_by_role("option").all()]
    assert kinds[0] == "completion" and "article" in kinds
    order = {"completion": 0, "tag": 1, "article": 2}
    assert [order[k] for k in kinds] == sorted(order[k] for k in kinds)
    first.click()
    expect(page.locator("#status")).to_contain_text("«bóng đá»")
