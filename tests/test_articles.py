from datetime import UTC, datetime, timedelta, timezone

import pytest

from searchsvc.articles import Article, article_from_mapping, article_to_mapping

ICT = timezone(timedelta(hours=7))
LIMIT = 10_000


def test_minimal_record_becomes_an_article() -> None:
    article = article_from_mapping({"id": "a1", "title": "Tiêu đề", "body": "Nội dung."}, LIMIT)
    assert article == Article(id="a1", title="Tiêu đề", body="Nội dung.")


def test_integer_id_is_accepted_as_string() -> None:
    assert article_from_mapping({"id": 42, "title": "T", "lead": "L"}, LIMIT).id == "42"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"title": "T", "body": "B"}, "missing field 'id'"),
        ({"id": "  ", "title": "T", "body": "B"}, "field 'id' is empty"),
        ({"id": True, "title": "T", "body": "B"}, "field 'id' must be a string or an integer, got bool"),
        ({"id": "a", "body": "B"}, "missing field 'title'"),
        ({"id": "a", "title": " ", "body": "B"}, "field 'title' is empty"),
        ({"id": "a", "title": "T"}, "no text: 'lead' and 'body' are both missing or empty"),
        ({"id": "a", "title": "T", "lead": "", "body": "\n"}, "no text: 'lead' and 'body' are both missing or empty"),
        ({"id": "a", "title": ["T"], "body": "B"}, "field 'title' must be a string, got list"),
        ({"id": "a", "title": "T", "body": 3}, "field 'body' must be a string, got int"),
        ({"id": "a", "title": "T", "body": "B", "author": {"n": 1}}, "field 'author' must be a string, got dict"),
        ({"id": "a", "title": "T", "body": "B", "tags": 7}, "field 'tags' must be a list of strings, got int"),
        (
            {"id": "a", "title": "T", "body": "B", "tags": ["x", 1]},
            "field 'tags' must be a list of strings, found a int",
        ),
        ({"id": "a", "title": "T", "body": "B", "published": 1543566060}, "field 'published' must be an ISO 8601"),
        ({"id": "a", "title": "T", "body": "B", "published": "30/11/2018"}, "field 'published' is not an ISO 8601"),
    ],
)
def test_invalid_records_are_refused_with_a_reason(record: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        article_from_mapping(record, LIMIT)
    assert str(caught.value).startswith(reason)


def test_null_optional_fields_are_empty() -> None:
    record = {"id": "a", "title": "T", "lead": None, "body": "B", "author": None, "category": None, "tags": None}
    assert article_from_mapping(record, LIMIT) == Article(id="a", title="T", body="B")


def test_tags_from_list_or_comma_separated_string() -> None:
    listed = article_from_mapping({"id": "a", "title": "T", "body": "B", "tags": [" Bóng đá ", "", "V-League"]}, LIMIT)
    joined = article_from_mapping({"id": "a", "title": "T", "body": "B", "tags": "Bóng đá, V-League,,Bóng đá"}, LIMIT)
    assert listed.tags == joined.tags == ("Bóng đá", "V-League")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-11-30", datetime(2018, 11, 30, tzinfo=ICT)),
        ("2018-11-30T15:21:00", datetime(2018, 11, 30, 15, 21, tzinfo=ICT)),
        ("2018-11-30T15:21:00+07:00", datetime(2018, 11, 30, 15, 21, tzinfo=ICT)),
        ("2018-11-30T08:21:00Z", datetime(2018, 11, 30, 8, 21, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_published_is_always_timezone_aware(value: str | None, expected: datetime | None) -> None:
    published = article_from_mapping({"id": "a", "title": "T", "body": "B", "published": value}, LIMIT).published
    assert published == expected
    assert published is None or published.utcoffset() is not None


def test_date_only_means_midnight_in_vietnam() -> None:
    published = article_from_mapping({"id": "a", "title": "T", "body": "B", "published": "2020-10-01"}, LIMIT).published
    assert published is not None and published.utcoffset() == timedelta(hours=7)
    assert published.astimezone(UTC) == datetime(2020, 9, 30, 17, tzinfo=UTC)


def test_text_keeps_its_form_but_loses_controls_and_edges() -> None:
    nfd_title = "Tie\u0302\u0301ng Vie\u0323\u0302t"  # decomposed tone marks, as some corpora have them
    body = "  Dòng một\u0000\r\nDòng\thai\u2028vẫn một đoạn\x1b \n"
    article = article_from_mapping({"id": "a", "title": nfd_title, "body": body}, LIMIT)
    assert article.title == nfd_title
    assert article.body == "Dòng một\nDòng\thai\u2028vẫn một đoạn"


def test_unknown_fields_are_ignored() -> None:
    record = {"id": "a", "title": "T", "body": "B", "breadcrumb": ["Thể thao"], "title_slug": "t", "extra": 1}
    assert article_from_mapping(record, LIMIT) == Article(id="a", title="T", body="B")


def test_oversize_record_gives_size_and_limit() -> None:
    with pytest.raises(ValueError) as caught:
        article_from_mapping({"id": "a", "title": "T" * 10, "lead": "L" * 10, "body": "B" * 81}, 100)
    assert str(caught.value) == "too large: 101 characters of title+lead+body, limit 100"
    assert article_from_mapping({"id": "a", "title": "T" * 10, "lead": "L" * 10, "body": "B" * 80}, 100).body


def test_mapping_round_trip() -> None:
    article = Article(
        id="x",
        title="Tiêu đề",
        lead="Sapo",
        body="Thân bài",
        category="Thể thao",
        tags=("Bóng đá",),
        author="Khánh Linh",
        published=datetime(2018, 11, 30, 15, 21, tzinfo=ICT),
        url="https://example.vn/x",
        source="VnExpress",
    )
    mapping = article_to_mapping(article)
    assert mapping["published"] == "2018-11-30T15:21:00+07:00"
    assert article_from_mapping(mapping, LIMIT) == article
