"""The page blueprint through Flask's test client: HTML that the strict CSP allows, and its static files.

The browser tests (test_web_e2e.py) check behaviour; these check the contract with the CSP cheaply:
no inline script, style or event handler, every referenced file served, nothing from another host.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient

PAGES = ("/", "/editor")


class _Page(HTMLParser):
    """What the CSP cares about in one HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.stylesheets: list[str] = []
        self.style_elements = 0
        self.inline_attrs: list[str] = []
        self.urls: list[str] = []
        self._in_script = False
        self.inline_code = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.inline_attrs.append(f"<{tag} {name}>")
            if name in ("src", "href", "action") and value:
                self.urls.append(value)
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True
        elif tag == "style":
            self.style_elements += 1
        elif tag == "link" and found.get("rel") == "stylesheet" and found.get("href"):
            self.stylesheets.append(str(found["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_code += data.strip()


def _parse(client: FlaskClient, path: str) -> _Page:
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = _Page()
    page.feed(response.get_data(as_text=True))
    return page


@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_inline_script_style_or_handlers(client: FlaskClient, path: str) -> None:
    page = _parse(client, path)
    assert page.scripts and all(s.get("src") for s in page.scripts)
    assert page.inline_code == ""
    assert page.style_elements == 0
    assert page.inline_attrs == []


@pytest.mark.parametrize("path", PAGES)
def test_page_refers_only_to_its_own_host(client: FlaskClient, path: str) -> None:
    page = _parse(client, path)
    external = [u for u in page.urls if re.match(r"^(https?:)?//", u)]
    assert external == []


@pytest.mark.parametrize("path", PAGES)
def test_scripts_and_stylesheets_are_served(client: FlaskClient, path: str) -> None:
    page = _parse(client, path)
    for script in page.scripts:
        assert script.get("type") == "module"
        response = client.get(str(script["src"]))
        assert response.status_code == 200
        assert response.mimetype in ("text/javascript", "application/javascript")
    for href in page.stylesheets:
        response = client.get(href)
        assert response.status_code == 200
        assert response.mimetype == "text/css"


def test_module_imports_are_served_and_local(client: FlaskClient) -> None:
    # The modules import each other by relative path; a missing file would only show in a browser.
    pending, seen = ["/static/web/reader.js", "/static/web/editor.js"], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        assert response.status_code == 200, path
        source = response.get_data(as_text=True)
        assert not re.search(r"https?://", source.replace(r"https?:\/\/", "")), path
        for target in re.findall(r'^import .* from "([^"]+)";', source, flags=re.M):
            assert target.startswith("./"), target
            pending.append("/static/web/" + target[2:])
    assert "/static/web/common.js" in seen and "/static/web/combobox.js" in seen


def test_stylesheet_loads_nothing_from_elsewhere(client: FlaskClient) -> None:
    css = client.get("/static/web/style.css").get_data(as_text=True)
    assert "@import" not in css
    assert "url(" not in css


def test_missing_static_file_is_404(client: FlaskClient) -> None:
    assert client.get("/static/web/nope.js").status_code == 404


def test_pages_are_in_vietnamese_with_landmarks(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="vi">' in html
    for landmark in ('role="search"', "<main", "<nav", 'aria-live="polite"', 'role="combobox"', 'role="listbox"'):
        assert landmark in html
    assert "Bàn biên tập" in client.get("/editor").get_data(as_text=True)
