"""The bigram table counts exactly what a plain count of adjacent syllables gives, whichever way it is built."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from searchsvc.analysis import clear, syllable_spans
from searchsvc.articles import Article
from searchsvc.errors import IndexUnavailable
from searchsvc.model import bigrams
from searchsvc.search.engine import Engine
from searchsvc.store.writer import build_index

N_DOCS = 60


@pytest.fixture(scope="module")
def texts(sample_articles: tuple[Article, ...]) -> list[str]:
    # Spread over the packaged sample: every source, and three of its NFD articles among them.
    docs = [sample_articles[i * len(sample_articles) // N_DOCS] for i in range(N_DOCS)]
    return [t for a in docs for t in (a.title, a.lead, a.body) if t]


def _plain_counts(texts: list[str]) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    one: Counter[str] = Counter()
    two: Counter[tuple[str, str]] = Counter()
    for text in texts:
        exact, _, starts, ends = syllable_spans(text)
        one.update(exact)
        two.update((exact[i], exact[i + 1]) for i in range(len(exact) - 1) if starts[i + 1] - ends[i] == 1)
    return one, two


def _table_rows(texts: list[str]) -> np.ndarray:
    counter = bigrams.Counter()
    for text in texts:
        counter.add_text(text)
    return counter.result()


def _table(texts: list[str]) -> bigrams.Bigrams:
    return bigrams.Bigrams(bigrams.merge([_table_rows(texts)]))


def test_counts_are_exact_for_every_syllable_and_pair(texts: list[str]) -> None:
    one, two = _plain_counts(texts)
    table = _table(texts)
    syllables = sorted(one)
    counts, distinct_followers = table.unigrams(syllables)
    assert counts.tolist() == [one[s] for s in syllables]
    pairs = sorted(two)
    got = [table.pair_counts([a], [b])[0, 0] for a, b in pairs]
    assert got == [two[p] for p in pairs]
    assert table.total == sum(one.values())
    followers = {a: len({b for x, b in two if x == a}) for a in syllables}
    assert distinct_followers.tolist() == [followers[s] for s in syllables]
    # A pair that never occurs (both syllables do) counts nothing.
    absent = next((a, b) for a in syllables for b in syllables if (a, b) not in two)
    assert table.pair_counts([absent[0]], [absent[1]])[0, 0] == 0


def test_only_syllables_one_character_apart_are_adjacent() -> None:
    table = _table(["Hà Nội, Việt Nam và Hà Nội"])
    assert table.pair_counts(["hà", "nội", "việt"], ["nội", "việt", "nam"]).tolist() == [
        [2, 0, 0], [0, 0, 0], [0, 0, 1]]


def test_merging_counters_equals_counting_everything(texts: list[str]) -> None:
    half = len(texts) // 2
    parts = [_table_rows(texts[:half]), _table_rows(texts[half:])]
    merged = bigrams.Bigrams(bigrams.merge(parts))
    one, two = _plain_counts(texts)
    pairs = sorted(two)
    got = [merged.pair_counts([a], [b])[0, 0] for a, b in pairs]
    assert got == [two[p] for p in pairs]
    assert merged.total == sum(one.values())
    assert np.array_equal(bigrams.merge(parts), bigrams.merge([_table_rows(texts)]))


def test_reindex_writes_the_table_a_count_of_the_stored_text_gives(tmp_path: Path, texts: list[str]) -> None:
    articles = [Article(id=f"d{i}", title=texts[i][:80], lead="", body=texts[i]) for i in range(0, 40)]
    home = tmp_path / "index"
    build_index(articles, home, procs=2, quiet=True)
    gen = next(home.glob("gen-*"))
    written = np.load(gen / bigrams.FILE)
    expected = _table([t for a in articles for t in (a.title, a.body)])
    assert np.array_equal(written, np.stack([expected.keys, expected.values, expected.followers]))


def test_a_generation_without_its_table_is_refused_not_patched(tmp_path: Path) -> None:
    home = tmp_path / "index"
    build_index([Article(id="d1", title="Giá vàng", body="Giá vàng tăng mạnh.")], home)
    gen = next(home.glob("gen-*"))
    (gen / bigrams.FILE).unlink()
    with pytest.raises(IndexUnavailable, match="searchsvc reindex"):
        Engine.open(home)
    assert not (gen / bigrams.FILE).exists()  # a reader never writes into a generation


def test_the_table_is_the_same_however_often_it_folds_and_the_analysis_starts_over(
        texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    whole = _table_rows(texts)
    monkeypatch.setattr(bigrams, "_FLUSH", 97)  # a fold every few texts, into a table that already holds keys
    counter = bigrams.Counter()
    for i, text in enumerate(texts):
        if i % 7 == 3:
            clear()  # the analysis renumbers every form: the counter must not reuse hashes by number
        counter.add_text(text)
    assert np.array_equal(counter.result(), whole)
    by_strings = bigrams.Counter()
    for text in texts:
        exact, _, starts, ends = syllable_spans(text)
        by_strings.add(exact, starts, ends)
    assert np.array_equal(by_strings.result(), whole)
