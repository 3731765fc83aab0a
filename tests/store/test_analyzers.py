"""searchsvc.store.analyzers: the columns the reindex pools take are what the fields' own index() yields."""

from __future__ import annotations

import pytest

from searchsvc.articles import Article
from searchsvc.store.analyzers import index_columns
from searchsvc.store.schema import build_schema
from searchsvc.store.writer import doc_fields


@pytest.mark.parametrize("name", ["title", "title_fold", "text", "text_fold"])
def test_index_columns_equal_the_fields_index(sample_articles: tuple[Article, ...], name: str) -> None:
    field = build_schema()[name]
    for article in sample_articles[::8]:
        value = doc_fields(article)[name]
        columns = index_columns(field, value)
        assert columns is not None
        terms, freqs, weights, lengths, values = columns
        rows = sorted(field.index(value))
        got = sorted(zip(terms, freqs.tolist(), weights.tolist(), lengths.tolist(), strict=True))
        assert [(t, f, w, len(v)) for t, f, w, v in rows] == got
        by_term = dict(zip(terms, (values[e - n : e] for n, e in zip(lengths.tolist(), _ends(lengths.tolist())))))
        assert all(by_term[t] == v for t, _, _, v in rows)


def _ends(lengths: list[int]) -> list[int]:
    out, at = [], 0
    for n in lengths:
        at += n
        out.append(at)
    return out


def test_other_fields_have_no_columns() -> None:
    schema = build_schema()
    assert index_columns(schema["id"], "baomoi-1") is None
    assert index_columns(schema["tag_key"], "tre em,ha noi") is None


def test_an_empty_value_has_no_postings() -> None:
    terms, freqs, _, _, values = index_columns(build_schema()["text"], ("", "", ""))  # type: ignore[misc]
    assert terms == [] and len(freqs) == 0 and values == b""
