"""Highlighting slices the original text: its diacritics, case and form survive; HTML is escaped.

The fast path (skeletons and candidate regexes) must mark exactly the syllables the reference rule marks
(``syllable_spans`` + ``Marker.matches``) and choose the window the reference choice picks: checked on
real news, on its NFD, upper-case and old-style-tone variants, and on generated text.
"""

from __future__ import annotations

import random
import re
import unicodedata
from bisect import bisect_left
from html import escape, unescape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchsvc import snippets
from searchsvc.analysis import canonical, fold, syllable_spans
from searchsvc.articles import Article
from searchsvc.snippets import SCAN_CHARS, WINDOW, Marker, best_fragment, highlight_all

N_DOCS = 80  # the sample's Báo Mới articles: a stride over all of baomoi_2017


def marker(exact: set[str] = frozenset(), folded: set[str] = frozenset()) -> Marker:  # type: ignore[assignment]
    return Marker(frozenset(exact), frozenset(folded))


def test_exact_form_marks_only_itself() -> None:
    html = highlight_all("Công đoàn và cộng đồng", marker(exact={"cộng"}))
    assert html == "Công đoàn và <mark>cộng</mark> đồng"


def test_folded_form_marks_every_accented_form_with_its_own_case() -> None:
    html = highlight_all("Công và cộng, CONG", marker(folded={"cong"}))
    assert html == "<mark>Công</mark> và <mark>cộng</mark>, <mark>CONG</mark>"


def test_nfd_text_is_sliced_as_written() -> None:
    text = unicodedata.normalize("NFD", "Trẻ em Hà Nội")
    html = highlight_all(text, marker(exact={"trẻ"}))
    assert html.startswith("<mark>" + unicodedata.normalize("NFD", "Trẻ") + "</mark>")


def test_html_is_escaped_around_and_inside_marks() -> None:
    html = highlight_all("<script>alert(1)</script> trẻ em", marker(exact={"trẻ"}))
    assert "<script>" not in html and "&lt;script&gt;" in html and "<mark>trẻ</mark>" in html


def test_best_fragment_prefers_the_window_with_most_matches() -> None:
    body = " ".join(["chữ"] * 200) + " trẻ em được bảo vệ " + " ".join(["chữ"] * 200)
    frag = best_fragment(["", body], marker(exact={"trẻ", "em", "bảo", "vệ"}))
    assert "<mark>trẻ</mark> <mark>em</mark>" in frag and frag.startswith("… ") and frag.endswith(" …")
    assert len(frag) < 400


def test_old_style_tone_placement_and_d_bar_match() -> None:
    assert highlight_all("Hoà bình", marker(exact={"hòa"})) == "<mark>Hoà</mark> bình"
    assert highlight_all("Đồng Nai, ĐỒNG", marker(folded={"dong"})) == "<mark>Đồng</mark> Nai, <mark>ĐỒNG</mark>"


def test_a_number_is_one_syllable_and_letters_after_it_are_another() -> None:
    assert highlight_all("Giá 498.000 đồng", marker(folded={"000"})) == "Giá 498.000 đồng"
    assert highlight_all("Giá 498.000 đồng", marker(folded={"498.000"})) == "Giá <mark>498.000</mark> đồng"
    assert highlight_all("Mẫu 1.2a", marker(folded={"a"})) == "Mẫu 1.2<mark>a</mark>"
    assert highlight_all("Mẫu a1.2", marker(folded={"2"})) == "Mẫu a1.<mark>2</mark>"
    # 1.1 starts inside what looks like 1.1 two characters earlier: a11 is one syllable, 1.1 the next.
    assert highlight_all("a11.1.1", marker(folded={"1.1"})) == "a11.<mark>1.1</mark>"


def test_a_combining_mark_that_composes_with_nothing_stays_in_its_syllable() -> None:
    html = highlight_all("x\u0301 và q\u0323", marker(folded={"x", "q"}))
    assert html == "<mark>x\u0301</mark> và <mark>q\u0323</mark>"


def test_the_window_starts_a_few_syllables_before_the_match() -> None:
    body = " ".join(f"từ{i}" for i in range(100)) + " trẻ em " + " ".join(f"chữ{i}" for i in range(100))
    frag = best_fragment(["", body], marker(exact={"trẻ"}))
    assert frag.startswith("… từ96 từ97 từ98 từ99 <mark>trẻ</mark> em chữ0")
    assert frag.endswith(" chữ25 …")


def test_a_body_is_chosen_only_for_more_distinct_matches_than_the_lead_holds() -> None:
    # best_fragment skips a text that cannot beat the best so far: each case is checked against the reference.
    filler = " ".join(f"chữ{i}" for i in range(60))
    both = marker(exact={"trẻ"}, folded={"em"})
    for lead, body in [("Trẻ em vùng cao", f"{filler} trẻ em {filler}"),  # the lead holds every form: it wins
                       ("Trẻ nhỏ vùng cao", f"{filler} trẻ em {filler}"),  # the body holds more
                       ("Trẻ nhỏ", f"{filler} trẻ {filler} trẻ"),  # as many: the lead wins the tie
                       ("", f"trẻ {filler} em {filler} trẻ em")]:  # the last window holds both
        check([lead, body], both)
    assert "<mark>em</mark>" in best_fragment(["Trẻ nhỏ vùng cao", f"{filler} trẻ em {filler}"], both)


# -- the reference: every syllable analysed (the rule highlighting had before the fast path) -------------


def reference_marks(text: str, m: Marker) -> list[tuple[int, int]]:
    exact, folded, starts, ends = syllable_spans(text)
    return [(starts[i], ends[i]) for i in range(len(exact)) if m and m.matches(exact[i], folded[i])]


def render(text: str, marks: list[tuple[int, int]], start: int, end: int) -> str:
    out, cursor = [], start
    for s, e in marks:
        if start <= s and e <= end:
            out += [escape(text[cursor:s]), "<mark>", escape(text[s:e]), "</mark>"]
            cursor = e
    return "".join(out) + escape(text[cursor:end])


def reference_window(texts: list[str], m: Marker, window: int) -> tuple[int, int, int] | None:
    """(text index, start, end) of the window with most distinct matched syllables; the lead wins ties."""
    best: tuple[int, int, int] | None = None
    for index, text in enumerate(texts):
        exact, folded, starts, _ = syllable_spans(text) if text else ((), (), (), ())
        hits = [i for i in range(len(exact)) if m and m.matches(exact[i], folded[i])]
        if starts and not hits and best is None:
            best = (0, -index, 0)
        for k, h in enumerate(hits):
            first = max(0, h - 4)
            score = len({folded[j] for j in hits[k : bisect_left(hits, first + window, k)]})
            if best is None or (score, -index) > best[:2]:
                best = (score, -index, first)
    if best is None:
        return None
    index, first = -best[1], best[2]
    _, _, starts, ends = syllable_spans(texts[index])
    last = min(len(starts), first + window) - 1
    start = 0 if first == 0 else starts[first]
    return index, start, len(texts[index]) if last == len(starts) - 1 else ends[last]


def cut(text: str) -> str:
    return text if len(text) <= SCAN_CHARS else text[: text.rfind(" ", 0, SCAN_CHARS) + 1 or SCAN_CHARS]


def marked(html: str) -> tuple[str, list[tuple[int, int]]]:
    """The plain text of rendered HTML, and the offsets of its marked parts in it."""
    plain, spans = "", []
    for i, part in enumerate(re.split("</?mark>", html)):
        if i % 2:
            spans.append((len(plain), len(plain) + len(unescape(part))))
        plain += unescape(part)
    return plain, spans


def check(texts: list[str], m: Marker, window: int = WINDOW) -> None:
    """highlight_all and best_fragment against the reference, on every text and on the pair."""
    for text in texts:
        plain, spans = marked(highlight_all(text, m))
        assert plain == text
        assert spans == reference_marks(text, m), (text, m)
    frag = best_fragment(texts, m, window)
    scanned = [cut(t) for t in texts]
    chosen = reference_window(scanned, m, window)
    if chosen is None:
        assert frag == ""
        return
    index, start, end = chosen
    text, before, after = scanned[index], start > 0, end < len(texts[index])
    body = render(text, reference_marks(text, m), start, end)
    assert frag == ("… " if before else "") + body + (" …" if after else ""), (texts, m)
    plain, spans = marked(frag[2 if before else 0 : len(frag) - 2 if after else len(frag)])
    assert plain == text[start:end]
    assert [(s + start, e + start) for s, e in spans] == [
        (s, e) for s, e in reference_marks(text, m) if start <= s and e <= end
    ]


# -- real news ------------------------------------------------------------------------------------------

_OLD_STYLE = {"òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ", "òe": "oè", "óe": "oé", "ỏe": "oẻ",
              "ọe": "oẹ", "ùy": "uỳ", "úy": "uý", "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ"}


def old_style(text: str) -> str:
    """Tone marks on the last vowel of an open syllable (``hoà``, ``thuý``), as some sources write them."""
    return re.sub(r"(" + "|".join(_OLD_STYLE) + r")\b", lambda m: _OLD_STYLE[m.group()], text)


@pytest.fixture(scope="module")
def news(sample_articles: tuple[Article, ...]) -> list[dict[str, str]]:
    docs = [a for a in sample_articles if a.source == "Báo Mới" and a.body]
    assert len(docs) == N_DOCS
    return [{"title": a.title, "lead": a.lead, "body": a.body} for a in docs]


def news_markers(doc: dict[str, str], rng: random.Random) -> list[Marker]:
    exact, folded, _, _ = syllable_spans(doc["title"] + " " + doc["lead"] + " " + doc["body"][:3000])
    picks = rng.sample(range(len(exact)), min(len(exact), 4))
    numbers = [i for i in range(len(exact)) if any(c.isdigit() for c in exact[i])][:3]
    d_bar = [i for i in range(len(exact)) if exact[i].startswith("đ")][:2]
    return [
        Marker(frozenset(exact[i] for i in picks), frozenset()),  # typed with accents
        Marker(frozenset(), frozenset(folded[i] for i in picks)),  # typed without
        Marker(frozenset(exact[i] for i in picks[:2]), frozenset(folded[i] for i in picks[2:])),
        Marker(frozenset(exact[i] for i in numbers), frozenset(folded[i] for i in d_bar)),
        Marker(frozenset(), frozenset(folded[i] for i in picks[:1])),  # one word: the first match wins
    ]


def test_fast_path_marks_and_windows_like_the_reference_on_real_news(news: list[dict[str, str]]) -> None:
    rng = random.Random(11)
    plain = 0
    for doc in news:
        plain += sum(snippets._skeleton(cut(doc[k])) is not None for k in ("title", "lead", "body"))
        nfd = {k: unicodedata.normalize("NFD", v) for k, v in doc.items()}
        for n, m in enumerate(news_markers(doc, rng)):
            for variant in (str, str.upper, old_style):
                check([variant(doc["title"])], m)
                check([variant(doc["lead"]), variant(doc["body"])], m)
            if n < 2:  # decomposed text takes the full analysis: a lighter check that it is routed there
                check([nfd["title"]], m)
                check([nfd["lead"], nfd["body"]], m)
    # Ordinary news must take the fast path, or the speed-up silently disappears.
    assert plain >= 0.95 * 3 * len(news)


# -- generated text -------------------------------------------------------------------------------------

_WORDS = (
    "trẻ", "Trẻ", "TRẺ", "em", "EM", "hòa", "hoà", "Hoà", "HÒA", "thúy", "thuý", "đồng", "Đồng", "ĐỒNG", "dong",
    "công", "cộng", "CONG", "ông", "ở", "a", "A", "à", "x", "498.000", "30/11/2018", "3,2", "1.2a", "a1.2",
    "2017", "000", "1.1.1", "a11", "nước.", "“Trẻ”", "…", "-", "_", "x_y", "ü", "Müller", "²", "北京", "😀",
    "\u00ad", "\u200b", "\u200c", "e\u0301", "a\u0323\u0302", "\u0301", "x\u0301", "q\u0323",
)
_JOINERS = (" ", " ", " ", "", ".", ", ", "\n", "  ", "/", ":", "-")
_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạờớởỡợĐƠƯ0123456789"
_FORMS = sorted({t for w in _WORDS for t in syllable_spans(w)[0]} | {"ho", "hoa", "thuy", "tre", "000", "1.2", "2a"})

_word = st.one_of(st.sampled_from(_WORDS), st.text(alphabet=_LETTERS, min_size=1, max_size=4))
_text = st.lists(st.tuples(_word, st.sampled_from(_JOINERS)), max_size=30).map(
    lambda parts: "".join(w + j for w, j in parts)
)
_forms = st.frozensets(st.sampled_from(_FORMS), max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lead=_text, body=_text, exact=_forms, folded=_forms, window=st.integers(1, 8), nfd=st.booleans(),
       data=st.data())
def test_fast_path_marks_and_windows_like_the_reference_on_generated_text(
    lead: str, body: str, exact: frozenset[str], folded: frozenset[str], window: int, nfd: bool,
    data: st.DataObject,
) -> None:
    if nfd:
        lead, body = unicodedata.normalize("NFD", lead), unicodedata.normalize("NFD", body)
    own = syllable_spans(lead + " " + body)[0]
    if own:  # forms of the text's own syllables, typed with accents or without
        picked = data.draw(st.frozensets(st.sampled_from(own), max_size=3))
        exact |= picked
        folded |= {fold(canonical(t)) for t in data.draw(st.frozensets(st.sampled_from(own), max_size=3))}
    check([lead, body], Marker(exact, folded), window)


_skeleton_text = st.text(alphabet="ab09 .,/:", max_size=400)


@settings(max_examples=500, deadline=None)
@given(skeleton=_skeleton_text, data=st.data())
def test_syllables_between_two_places_are_counted_as_the_tokenizer_finds_them(
    skeleton: str, data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, len(skeleton)))
    end = data.draw(st.integers(start, len(skeleton)))
    cap = data.draw(st.integers(1, 40))
    # Neither end inside a syllable, as _count is called: at a syllable start or the text's end.
    starts = [m.start() for m in snippets._SYLLABLE.finditer(skeleton)] + [len(skeleton)]
    start, end = min(s for s in starts if s >= start), min(s for s in starts if s >= end)
    start = min(start, end)
    expected = min(cap, len(snippets._SYLLABLE.findall(skeleton, start, end)))
    assert snippets._count(skeleton, start, end, cap) == expected
