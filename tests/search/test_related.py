"""Related stories for editors, over a small index of hand-written articles: never the article itself,
near-copies collapsed, the search's own recency rule, a minimum of shared reasons, and the reasons shown."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from searchsvc.analysis import analyse, canonical, fold_text
from searchsvc.articles import VIETNAM_TZ, Article
from searchsvc.errors import InputError, NotFound
from searchsvc.query.plan import STOPWORDS
from searchsvc.search.engine import Engine
from searchsvc.search.related import (
    COPY_SIMILARITY,
    DISTINCTIVE,
    MAX_REASONS,
    MIN_CONCEPTS,
    _copies,
    _holding,
    key_terms,
    reasons,
    shingles,
    term_counts,
)
from searchsvc.search.results import RelatedHit
from searchsvc.store.writer import build_index


def _day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 8, 0, tzinfo=VIETNAM_TZ)


NOW = datetime.now(VIETNAM_TZ).replace(microsecond=0)


def _article(id: str, title: str, lead: str, body: str, tags: tuple[str, ...] = (), category: str = "",
             published: datetime | None = None, source: str = "vnexpress") -> Article:
    return Article(id=id, title=title, lead=lead, body=body, tags=tags, category=category, published=published,
                   url=f"https://example.vn/{id}", source=source, author="Phóng viên")


GOLD_LEAD = "Giá vàng miếng SJC tăng mạnh theo giá vàng thế giới."
GOLD_BODY = ("Nhà đầu tư đổ xô mua vàng miếng khi giá vàng thế giới lập đỉnh. "
             "Các cửa hàng vàng bạc đá quý đông khách từ sáng sớm.")
GOLD = ("vang", "vang-syn", "vang-near")  # one story: the original, a syndicated copy, a copy with a sentence more

ARTICLES = (
    _article("vang", "Giá vàng tăng mạnh trong phiên sáng", GOLD_LEAD, GOLD_BODY, ("Giá vàng",), "Kinh doanh",
             _day(2024, 7, 1)),
    # The same text under another id and a headline of its own words (syndication rewrites headlines).
    _article("vang-syn", "Thị trường vàng sôi động", GOLD_LEAD, GOLD_BODY, ("Giá vàng",), "Kinh doanh",
             _day(2024, 7, 1), "baomoi"),
    _article("vang-near", "Vàng miếng SJC lập đỉnh, nhà đầu tư đổ xô mua", GOLD_LEAD,
             GOLD_BODY + " Giá vàng nhẫn cũng tăng.", ("Giá vàng",), "Kinh doanh", _day(2024, 7, 2), "tuoitre"),
    # Another story under the original's headline (folded alike).
    _article("vang-title", "GIÁ VÀNG TĂNG MẠNH TRONG PHIÊN SÁNG", "Giá vàng nhẫn cũng tăng mạnh.",
             "Người dân xếp hàng mua vàng nhẫn tích trữ từ sáng sớm.", ("Giá vàng",), "Kinh doanh",
             _day(2024, 7, 1), "thanhnien"),
    _article("dautu", "Nhà đầu tư đổ xô tích trữ vàng", "Giá vàng thế giới lập đỉnh.",
             "Nhà đầu tư trong nước đổ xô mua vàng miếng SJC và vàng nhẫn.", ("Giá vàng", "Đầu tư"), "Kinh doanh",
             _day(2024, 7, 3)),
    # Two stories like "mua", each on a different part of it: the old one a little more similar.
    _article("mua", "Mưa lớn gây ngập nhiều tuyến phố Hà Nội",
             "Cơn mưa lớn kéo dài khiến nước ngập sâu, giao thông ùn tắc.",
             "Nhiều cây xanh bật gốc, hệ thống thoát nước quá tải.", ("Thời tiết",), "Thời sự", _day(2024, 6, 1)),
    _article("mua-old", "Ngập sâu sau mưa lớn", "Mưa lớn làm nước ngập sâu.", "Hệ thống thoát nước quá tải.",
             (), "Thời sự", _day(2014, 6, 1)),
    _article("mua-new", "Cây xanh bật gốc trong giông", "Giông lốc khiến cây xanh bật gốc.",
             "Giao thông ùn tắc ở Hà Nội.", (), "Thời sự", NOW - timedelta(days=2)),
    # Tags: "bong-tag" shares the tag (spelt its own way) and one term, "bong-only-tag" the tag alone,
    # "bong-term" one term alone (a word and its syllables: one concept).
    _article("bong", "Đội tuyển bóng đá tập huấn", "Đội tuyển Việt Nam tập huấn tại Hàn Quốc.",
             "Các cầu thủ chuẩn bị cho vòng loại.", ("Bóng đá",), "Thể thao", _day(2024, 5, 1)),
    _article("bong-tag", "Sân Mỹ Đình sửa chữa", "Mặt cỏ sân Mỹ Đình được thay mới.",
             "Công trình xong trước vòng loại.", ("BÓNG ĐÁ", "Hạ tầng"), "Đô thị", _day(2024, 5, 2)),
    _article("bong-only-tag", "Cổ động viên mua vé", "Vé xem trận đấu bán hết.", "Người hâm mộ xếp hàng từ đêm.",
             ("bóng đá",), "Giải trí", _day(2024, 5, 3)),
    _article("bong-term", "Du lịch Hàn Quốc hút khách", "Du khách đến Hàn Quốc đông.", "Các tour mùa thu kín chỗ.",
             (), "Du lịch", _day(2024, 5, 4)),
    # Two different stories, each sharing the same two concepts with "bong" ("Hàn Quốc", "vòng loại").
    _article("co-vua", "Giải cờ vua châu Á", "Vòng loại giải cờ vua diễn ra tại Hàn Quốc.",
             "Kỳ thủ trẻ tranh vé dự giải.", (), "Thể thao", _day(2024, 5, 5)),
    _article("boi", "Kình ngư thi đấu ở Hàn Quốc", "Các kình ngư vượt qua vòng loại tại Hàn Quốc.",
             "Họ giành suất vào chung kết.", (), "Thể thao", _day(2024, 5, 6)),
    _article("chao", "Chào mừng năm học mới", "Học sinh vùng cao chào mừng năm học mới.",
             "Thầy cô dựng lớp bằng tre nứa.", ("Giáo dục",), "Giáo dục", None),
)
BY_ID = {a.id: a for a in ARTICLES}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("related") / "index"
    build_index(ARTICLES, home, procs=1)
    return home


@pytest.fixture(scope="module")
def engine(home: Path) -> Engine:
    return Engine.open(home)


def _ids(hits: list[RelatedHit]) -> list[str]:
    return [h.hit.id for h in hits]


def test_the_article_itself_is_never_returned(engine: Engine) -> None:
    found = 0
    for a in ARTICLES:
        ids = _ids(engine.related(a.id))
        assert a.id not in ids
        assert len(ids) == len(set(ids))
        found += len(ids)
    assert found > 10  # most articles have related stories: the loop checked something
    # A draft under an indexed headline (however cased) is that story: it is not its own related story.
    for title in (BY_ID["dautu"].title, BY_ID["dautu"].title.upper()):
        ids = _ids(engine.related_to_text(title, BY_ID["dautu"].body))
        assert ids and "dautu" not in ids


def test_an_article_does_not_list_its_copies(engine: Engine) -> None:
    # "vang-syn" holds the same text under another headline, "vang-near" the same and a sentence more;
    # "vang-title" has "vang"'s headline: all are "vang" to a reader.
    ids = _ids(engine.related("vang"))
    assert ids == ["dautu"]
    assert not {"vang-syn", "vang-near", "vang-title"} & set(_ids(engine.related("vang")))


def test_another_story_lists_at_most_one_copy(engine: Engine) -> None:
    ids = _ids(engine.related("dautu"))
    assert len([i for i in ids if i in GOLD]) == 1
    # The same folded headline counts once too.
    assert len([i for i in ids if fold_text(BY_ID[i].title) == fold_text(BY_ID["vang"].title)]) <= 1
    assert "vang-title" in ids or "vang" in ids
    # What a draft finds is collapsed the same way (a draft is not excluded from the index, its copies
    # of each other are).
    draft = _ids(engine.related_to_text("Kayak vàng", "SJC"))
    assert len([i for i in draft if i in GOLD]) == 1


def test_a_syndicated_copy_does_not_list_the_original(engine: Engine) -> None:
    # Copies are judged by their text (shingles), not by the article's key terms: a rewritten headline's
    # words are the rarest and weigh most among those, yet "vang-syn" has "vang"'s lead and body word for word.
    assert not set(GOLD) & set(_ids(engine.related("vang-syn")))


def test_a_short_story_lists_the_longer_story_that_covers_it(engine: Engine) -> None:
    # A longer, different story holding most of a short one's words is no copy of it: "mua" holds 15 of
    # "mua-new"'s 18 key terms, but their texts share few runs of syllables.
    assert "mua" in _ids(engine.related("mua-new"))


def test_different_stories_sharing_the_same_few_terms_are_not_copies_of_each_other(engine: Engine) -> None:
    # Two unrelated stories that share the same two terms with the article are both listed: they were once
    # judged copies of each other by which of the article's key terms each held (817 stories dropped from
    # top-10 lists over the packaged sample, none a copy); now by their own text.
    ids = _ids(engine.related("bong"))
    assert {"co-vua", "boi"} <= set(ids)


def _age_lift(a: Article, weight: float, half_life_days: float) -> float:
    assert a.published is not None
    age = max(0.0, time.time() - a.published.timestamp())
    return 1 + weight * 0.5 ** (age / (half_life_days * 86400))


@pytest.mark.parametrize("settings, first", [
    ({"RECENCY_WEIGHT": 0.0}, "mua-old"),  # by similarity alone: the old story holds a little more
    ({"RECENCY_WEIGHT": 1.0}, "mua-new"),
    ({"RECENCY_WEIGHT": 1.0, "RECENCY_HALF_LIFE_DAYS": 0.001}, "mua-old"),  # both too old to be lifted
])
def test_recency_with_the_searchs_own_settings(home: Path, settings: dict[str, Any], first: str) -> None:
    plain = Engine.open(home, {"RECENCY_WEIGHT": 0.0}).related("mua")
    assert _ids(plain)[:2] == ["mua-old", "mua-new"]
    assert plain[0].hit.score > plain[1].hit.score  # close, but not equal
    lifted = Engine.open(home, settings).related("mua")
    assert _ids(lifted)[0] == first and set(_ids(lifted)[:2]) == {"mua-old", "mua-new"}
    assert [h.hit.score for h in lifted] == sorted((h.hit.score for h in lifted), reverse=True)
    # Every score is the unlifted one times the news lift: 1 + weight × 0.5^(age / half-life).
    weight = float(settings["RECENCY_WEIGHT"])
    half = float(settings.get("RECENCY_HALF_LIFE_DAYS", 365.0))
    raw = {h.hit.id: h.hit.score for h in plain}
    for h in lifted:
        expected = raw[h.hit.id] * _age_lift(BY_ID[h.hit.id], weight, half)
        assert h.hit.score == pytest.approx(expected, rel=1e-3)


def test_a_draft_sharing_one_word_with_the_index_gets_nothing(engine: Engine) -> None:
    snapshot = engine.snapshot
    assert snapshot.doc_frequency("text", "vàng") >= 5 and snapshot.doc_frequency("text", "kayak") == 0
    assert engine.related_to_text("Lướt ván", "Vàng kayak") == []
    # "xin chào": the index has "chào" (one article) but not "xin"; one word of two is a coincidence.
    assert snapshot.doc_frequency("text", "chào") == 1 and snapshot.doc_frequency("text", "xin") == 0
    assert engine.related_to_text("xin chào", "") == []
    assert engine.related_to_text("", "Xin chào") == []


def test_two_shared_key_terms_are_enough(engine: Engine) -> None:
    assert MIN_CONCEPTS == 2
    hits = engine.related_to_text("Kayak vàng", "SJC")
    assert hits and all(h.hit.id in GOLD + ("dautu",) for h in hits)
    assert all(sorted(h.shared_terms) == ["SJC", "vàng"] for h in hits)  # as the draft writes them
    # A draft of one concept (a word and its syllables count once) needs only that one.
    assert engine.related_to_text("Giá vàng", "")


def test_a_shared_tag_counts_as_a_reason(engine: Engine) -> None:
    # "bong-tag" shares a tag and one concept ("vòng loại"): two reasons. "bong-term" shares one concept
    # ("Hàn Quốc"), "bong-only-tag" the tag alone: one reason each, not enough.
    hits = {h.hit.id: h for h in engine.related("bong")}
    assert "bong-tag" in hits and not {"bong-term", "bong-only-tag"} & set(hits)
    assert hits["bong-tag"].shared_terms[0] == "vòng loại"
    # The other way round, the tag is shown as the related story writes it.
    back = engine.related("bong-tag")
    assert _ids(back) == ["bong"]
    assert hits["bong-tag"].shared_tags == ["BÓNG ĐÁ"] and back[0].shared_tags == ["Bóng đá"]


def _content_terms(a: Article) -> set[str]:
    return {t.text for part in (a.title, a.lead, a.body) for t in analyse(part)}


def test_why_related_shows_the_articles_key_terms_the_story_holds(engine: Engine) -> None:
    shown = 0
    for a in ARTICLES:
        counts = term_counts(a.title, a.lead + "\n" + a.body)
        keys = [t for t, _ in key_terms(engine.snapshot, counts.weights)][:DISTINCTIVE]
        mine = _content_terms(a)
        for h in engine.related(a.id):
            terms = [canonical("_".join(t.split())) for t in h.shared_terms]
            theirs = _content_terms(BY_ID[h.hit.id])
            assert h.shared_terms or h.shared_tags, f"{h.hit.id} related to {a.id} for no shown reason"
            assert all(t in keys and t in mine and t in theirs and t not in STOPWORDS for t in terms)
            # Strongest first, at most MAX_REASONS, a word and its syllables once, as the article writes them.
            held = [t for t in keys if t in theirs]
            words = {p for t in held if "_" in t for p in t.split("_")}
            said = {fold_text(t) for t in h.shared_tags}  # a shared tag is not said again as a term
            expected = [t for t in held if t not in words and fold_text(t.replace("_", " ")) not in said]
            assert terms == expected[:MAX_REASONS]
            assert len(terms) <= MAX_REASONS and not {p for t in terms if "_" in t for p in t.split("_")} & set(terms)
            assert all(t in a.title + a.lead + a.body for t in h.shared_terms)
            assert h.shared_tags == [t for t in BY_ID[h.hit.id].tags if fold_text(t) in {fold_text(x) for x in a.tags}]
            shown += 1
    assert shown > 10
    hit = engine.related("dautu")[0]
    assert "đầu tư" in hit.shared_terms and "Giá vàng" in hit.shared_tags


def test_reasons_count_a_word_and_its_syllables_once_in_the_articles_spelling() -> None:
    terms = [("world_cup", 9.0), ("world", 8.0), ("cup", 7.0), ("kim_sang_sik", 6.0), ("sik", 5.0), ("hlv", 4.0),
             ("hà_nội", 3.0), ("sân", 2.0), ("đội", 1.0)]
    spelling = {"world_cup": "World Cup", "kim_sang_sik": "Kim Sang-sik", "hlv": "HLV", "hà_nội": "Hà Nội"}
    matched = {t for t, _ in terms}
    assert reasons(matched, terms, spelling, skip=set()) == ["World Cup", "Kim Sang-sik", "HLV", "Hà Nội", "sân"]
    assert reasons(matched, terms, spelling, skip={"ha noi"}) == ["World Cup", "Kim Sang-sik", "HLV", "sân", "đội"]
    assert reasons({"world", "cup"}, terms, spelling, skip=set()) == ["world", "cup"]  # the word itself not held


def test_limit_and_errors(engine: Engine) -> None:
    assert len(engine.related("dautu", limit=1)) == 1
    with pytest.raises(NotFound):
        engine.related("no-such-article")
    with pytest.raises(InputError):
        engine.related_to_text("  ", "")


def test_copies_are_judged_by_their_text() -> None:
    original = {"title": "Giá vàng hôm nay tăng mạnh", "lead": "Giá vàng miếng SJC tăng thêm một triệu đồng.",
                "body": "Các doanh nghiệp kinh doanh vàng điều chỉnh giá từ sáng nay theo giá thế giới."}
    copy = {**original, "title": "Vàng tăng giá"}
    other = {"title": "Giá vàng giảm", "lead": "Vàng giảm nhẹ.", "body": "Giới đầu tư chờ tín hiệu mới."}
    a, b, c = shingles(original), shingles(copy), shingles(other)
    assert len(a & b) / len(a | b) >= COPY_SIMILARITY > len(a & c) / len(a | c)


def test_stories_of_the_same_days_rank_higher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import searchsvc.search.related as related_mod

    base = _day(2020, 3, 1)
    articles = (
        _article("u23", "U23 Việt Nam thắng Thái Lan", "Đội U23 Việt Nam thắng Thái Lan ở bán kết.",
                 "Huấn luyện viên khen các cầu thủ.", published=base),
        # The same two stories' worth of words; the far one a little closer in text.
        _article("near", "U23 Việt Nam thắng Hàn Quốc", "Đội U23 Việt Nam thắng Hàn Quốc ở chung kết.",
                 "Huấn luyện viên khen học trò.", published=base + timedelta(days=3)),
        _article("far", "U23 Việt Nam hòa Thái Lan", "Đội U23 Việt Nam hòa Thái Lan ở vòng bảng.",
                 "Huấn luyện viên hài lòng.", published=base + timedelta(days=3 * 365)),
    )
    home = tmp_path / "index"
    build_index(articles, home, procs=1)
    engine = Engine.open(home, {"RECENCY_WEIGHT": 0.0})
    monkeypatch.setattr(related_mod, "NEAR_WEIGHT", 0.0)
    plain = {h.hit.id: h.hit.score for h in engine.related("u23")}
    assert plain["far"] > plain["near"]  # by text alone the far story is closer
    monkeypatch.setattr(related_mod, "NEAR_WEIGHT", 1.0)
    near = engine.related("u23")
    assert _ids(near) == ["near", "far"]

    def factor(days: float) -> float:
        return 1 + 0.5 ** (days / related_mod.NEAR_HALF_LIFE_DAYS)

    scores = {h.hit.id: h.hit.score for h in near}
    assert scores["near"] == pytest.approx(plain["near"] * factor(3), rel=1e-3)
    assert scores["far"] == pytest.approx(plain["far"] * factor(3 * 365), rel=1e-3)
    # A draft has no date of its own: nothing is near it.
    draft = {h.hit.id: h.hit.score for h in engine.related_to_text("U23 Việt Nam thắng Thái Lan", "")}
    assert draft.keys() <= plain.keys()


def test_which_candidates_a_posting_list_holds_by_binary_search() -> None:
    ids = np.array([2, 5, 9, 40], np.int32)
    docs = np.array([40, 1, 5, 41, 2, 9, 10])
    assert _holding(ids, docs).tolist() == [True, False, True, False, True, True, False]
    assert _holding(np.zeros(0, np.int32), docs).tolist() == [False] * 7


def test_copies_share_at_least_half_their_shingles_by_jaccard_whatever_their_sizes() -> None:
    a = set(range(100))
    assert COPY_SIMILARITY == 0.5
    assert _copies(a, set(range(200)))  # 100 shared of 200: exactly half
    assert not _copies(a, set(range(201)))  # the smaller is under half the larger: not even intersected
    assert _copies(a, set(range(33, 133))) and not _copies(a, set(range(34, 134)))  # 67/133 and 66/134
    assert _copies(a, set(a)) and not _copies(a, set()) and not _copies(set(), set())


def test_terms_the_best_candidates_share_weigh_more_than_what_one_story_shares(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import searchsvc.search.related as related_mod

    articles = (
        _article("lua", "Giá lúa gạo xuất khẩu tăng", "Giá lúa gạo xuất khẩu tăng mạnh tại Cần Thơ.",
                 "Thương lái Cần Thơ thu mua lúa gạo để xuất khẩu."),
        _article("gao-1", "Xuất khẩu gạo lập kỷ lục", "Gạo xuất khẩu được giá.", "Nông dân bán lúa có lãi."),
        _article("gao-2", "Lúa gạo được mùa được giá", "Giá lúa tăng, gạo xuất khẩu đắt hàng.",
                 "Doanh nghiệp ký hợp đồng xuất khẩu."),
        _article("gao-3", "Doanh nghiệp xuất khẩu gạo", "Gạo Việt xuất khẩu sang Philippines.",
                 "Giá lúa trong nước ổn định."),
        # Shares the article's place, said three times, and one of its topic's words.
        _article("can-tho", "Cần Thơ khánh thành cầu mới", "Cầu mới ở Cần Thơ nối hai quận của Cần Thơ.",
                 "Người dân Cần Thơ phấn khởi, xe chở lúa qua cầu."),
        _article("bong", "Đội tuyển bóng đá tập huấn", "Các cầu thủ chuẩn bị cho vòng loại.", "HLV hài lòng."),
    )
    home = tmp_path / "index"
    build_index(articles, home, procs=1)
    engine = Engine.open(home, {"RECENCY_WEIGHT": 0.0})
    monkeypatch.setattr(related_mod, "FEEDBACK_GAIN", 0.0)
    one_round = _ids(engine.related("lua"))
    assert one_round.index("can-tho") < 2  # one round: the rare place weighs most
    monkeypatch.setattr(related_mod, "FEEDBACK_GAIN", 3.0)
    ranked = engine.related("lua")
    assert set(_ids(ranked)[:3]) == {"gao-1", "gao-2", "gao-3"} and _ids(ranked)[3] == "can-tho"
    assert "Cần Thơ" in ranked[3].shared_terms  # still related, by the place, after its section's stories
