"""search.results: the one check of a request against the limits, with messages naming the parameter."""

from __future__ import annotations

from datetime import date

import pytest

from searchsvc.config import DEFAULTS
from searchsvc.errors import InputError
from searchsvc.search.results import SearchRequest, SearchResult, validate


@pytest.mark.parametrize(("request_", "names"), [
    (SearchRequest(q="x" * 501), "'q'"),
    (SearchRequest(tags=("t" * 501,)), "'tag'"),
    (SearchRequest(category="c" * 501), "'category'"),
    (SearchRequest(per_page=0), "'per_page'"),
    (SearchRequest(per_page=101), "'per_page'"),
    (SearchRequest(page=0), "'page'"),
    (SearchRequest(page=101, per_page=10), "page 101 × per_page 10"),
    (SearchRequest(sort="oldest"), "'sort'"),
    (SearchRequest(date_from=date(2024, 2, 1), date_to=date(2024, 1, 1)), "'from'"),
])
def test_out_of_limits_is_an_input_error_naming_the_parameter(request_: SearchRequest, names: str) -> None:
    with pytest.raises(InputError) as caught:
        validate(request_, DEFAULTS)
    assert names in caught.value.message and caught.value.status == 400


def test_too_many_terms() -> None:
    with pytest.raises(InputError, match="the query has 65 terms; the limit is 64"):
        validate(SearchRequest(tags=("a",)), DEFAULTS, query_terms=64)
    validate(SearchRequest(tags=("a",)), DEFAULTS, query_terms=63)


def test_within_limits_passes() -> None:
    validate(SearchRequest(q="x" * 500, page=100, per_page=10, sort="newest", date_from=date(1, 1, 1),
                           date_to=date(9999, 12, 31)), DEFAULTS)


def test_all_words_matched_follows_the_tiers() -> None:
    def result(total: int, every: int | None) -> SearchResult:
        return SearchResult(total, [], {}, 0.0, None, every, False, 1, 10)

    assert result(3, 3).all_words_matched
    assert not result(5, 3).all_words_matched
    assert not result(4, None).all_words_matched  # a question is not tiered
