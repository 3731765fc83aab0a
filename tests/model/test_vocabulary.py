"""The vocabulary a reindex writes: every folded syllable's accented forms with their document frequencies,
pyvi words seen often enough, and the lexicons' frequencies, as a plain count of the indexed text gives them."""

from __future__ import annotations

import pickle
import sys
import types
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from searchsvc.analysis import WORD_JOINER, fold, postings
from searchsvc.articles import Article
from searchsvc.model import vocabulary
from searchsvc.model.vocabulary import _MIN_WORD_DF, Vocabulary
from searchsvc.store.home import IndexHome
from searchsvc.store.schema import PART_WEIGHTS
from searchsvc.store.snapshot import Snapshot
from searchsvc.store.writer import build_index

N_DOCS = 40


@pytest.fixture(scope="module")
def articles(sample_articles: tuple[Article, ...]) -> list[Article]:
    docs = [sample_articles[i * len(sample_articles) // N_DOCS] for i in range(N_DOCS)]
    assert len({a.id for a in docs}) == N_DOCS
    return docs


@pytest.fixture(scope="module")
def home(articles: list[Article], tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("vocab") / "index"
    build_index(articles, home, procs=1)
    return home


@pytest.fixture(scope="module")
def vocab(home: Path) -> Vocabulary:
    # A Snapshot alone: an Engine's background warm-up would still be reading the one closed here.
    snapshot = Snapshot.open(IndexHome(home).current())
    try:
        return snapshot.vocabulary
    finally:
        snapshot.close()


def _df(articles: list[Article], folded: bool) -> Counter[str]:
    """Documents holding each term of the article text (title, lead, body), counted from the analysis."""
    df: Counter[str] = Counter()
    for a in articles:
        terms, _ = postings((a.title, a.lead, a.body), folded, PART_WEIGHTS)
        df.update(terms.keys())
    return df


def test_lexicon_frequencies_and_doc_count(vocab: Vocabulary, articles: list[Article]) -> None:
    assert vocab.doc_count == N_DOCS
    assert vocab.exact_df == dict(_df(articles, folded=False))
    assert vocab.fold_df == dict(_df(articles, folded=True))
    assert any(WORD_JOINER in t for t in vocab.exact_df)  # the exact lexicon holds pyvi words
    assert not any(WORD_JOINER in t for t in vocab.fold_df)  # the folded one syllables only


def test_every_folded_syllable_lists_its_accented_forms_most_frequent_first(vocab: Vocabulary) -> None:
    syllables = {t: df for t, df in vocab.exact_df.items() if WORD_JOINER not in t}
    expected: dict[str, list[tuple[str, int]]] = {}
    for form, df in syllables.items():
        expected.setdefault(fold(form), []).append((form, df))
    assert {k: sorted(v) for k, v in vocab.syllables.items()} == {k: sorted(v) for k, v in expected.items()}
    for forms in vocab.syllables.values():
        assert [df for _, df in forms] == sorted((df for _, df in forms), reverse=True)
    # Real text gives folded syllables with several forms (the case restoration exists for).
    several = [forms for forms in vocab.syllables.values() if len({df for _, df in forms}) > 1]
    assert len(several) > 20
    assert vocab.syllables["nguoi"][0][0] == "người"


def test_words_are_kept_only_when_seen_in_enough_documents(vocab: Vocabulary) -> None:
    words = {t: df for t, df in vocab.exact_df.items() if WORD_JOINER in t}
    kept = {t for t, df in words.items() if df >= _MIN_WORD_DF}
    dropped = set(words) - kept
    assert kept and dropped
    assert any(df == _MIN_WORD_DF for df in words.values())  # the threshold itself is kept
    listed = {w: df for forms in vocab.words.values() for w, df in forms}
    assert listed == {w: words[w] for w in kept}
    for key, forms in vocab.words.items():
        assert all(WORD_JOINER.join(fold(p) for p in w.split(WORD_JOINER)) == key for w, _ in forms)
        assert [df for _, df in forms] == sorted((df for _, df in forms), reverse=True)


class _Info:
    def __init__(self, df: int) -> None:
        self.df = df

    def doc_frequency(self) -> int:
        return self.df


class _Reader:
    """What ``build`` reads of the writer's reader: the two lexicons and the document count."""

    def __init__(self, fields: dict[str, dict[Any, int]], docs: int) -> None:
        self.fields = fields
        self.docs = docs

    def iter_field(self, name: str) -> Iterator[tuple[Any, _Info]]:
        for term, df in self.fields[name].items():
            yield term, _Info(df)

    def doc_count(self) -> int:
        return self.docs


def test_build_from_a_reader_of_the_lexicons() -> None:
    exact = {"trẻ".encode(): 9, "tre": 2, "tré".encode(): 5, b"em": 11, "trẻ_em".encode(): 7,
             "tre_em": _MIN_WORD_DF, "tré_em".encode(): _MIN_WORD_DF - 1}
    folded = {b"tre": 12, b"em": 11}
    got = vocabulary.build(_Reader({"text": exact, "text_fold": folded}, 12))
    assert got.syllables == {"tre": [("trẻ", 9), ("tré", 5), ("tre", 2)], "em": [("em", 11)]}
    assert got.words == {"tre_em": [("trẻ_em", 7), ("tre_em", _MIN_WORD_DF)]}
    assert got.exact_df == {"trẻ": 9, "tre": 2, "tré": 5, "em": 11, "trẻ_em": 7, "tre_em": _MIN_WORD_DF,
                            "tré_em": _MIN_WORD_DF - 1}
    assert got.fold_df == {"tre": 12, "em": 11}
    assert got.doc_count == 12 and got.bigrams is None


def test_the_generation_holds_what_serving_loads(home: Path, vocab: Vocabulary) -> None:
    (gen,) = home.glob("gen-*")
    on_disk = vocabulary.load(gen)
    assert on_disk is not None and on_disk.bigrams is None  # the table is its own file, not pickled
    assert on_disk == replace(vocab, bigrams=None)
    assert vocab.bigrams is not None  # the snapshot attaches it


def test_save_load_round_trip(tmp_path: Path, vocab: Vocabulary) -> None:
    vocabulary.save(tmp_path, vocab)
    assert [p.name for p in tmp_path.iterdir()] == [vocabulary.FILE]  # no temporary file left
    loaded = vocabulary.load(tmp_path)
    assert loaded is not None and loaded.bigrams is None
    assert loaded == replace(vocab, bigrams=None)
    assert vocab.bigrams is not None  # saving does not strip the caller's table
    small = Vocabulary({"tre": [("trẻ", 2)]}, {}, {"trẻ": 2}, {"tre": 2}, 2)
    vocabulary.save(tmp_path, small)  # replaces the file
    assert vocabulary.load(tmp_path) == small


def test_missing_file_is_none(tmp_path: Path) -> None:
    assert vocabulary.load(tmp_path) is None
    assert vocabulary.load(tmp_path / "no-such-dir") is None
    (tmp_path / vocabulary.FILE).mkdir()  # a directory where the file should be
    assert vocabulary.load(tmp_path) is None


@pytest.mark.parametrize("data", [
    b"", b"not a pickle", b"\x00" * 64, bytes(range(256)), b"\x80\x05\x95\xff\xff",
    pickle.dumps(Vocabulary(doc_count=3))[:-5],  # truncated
    pickle.dumps(Vocabulary(doc_count=3)).replace(b"Vocabulary", b"Vocabulari"),  # a class since renamed
], ids=["empty", "text", "zeros", "bytes", "bad-frame", "truncated", "renamed-class"])
def test_garbage_file_is_none(tmp_path: Path, data: bytes) -> None:
    (tmp_path / vocabulary.FILE).write_bytes(data)
    assert vocabulary.load(tmp_path) is None


def _pickle_from_a_moved_module() -> bytes:
    """A vocabulary pickled when its class lived in a module that no longer exists (the restructure moved
    ``searchsvc.vocabulary`` to ``searchsvc.model.vocabulary``)."""
    old = types.ModuleType("searchsvc.gone_vocabulary")
    cls = type("Vocabulary", (), {"__module__": old.__name__})
    old.Vocabulary = cls  # type: ignore[attr-defined]
    sys.modules[old.__name__] = old
    try:
        return pickle.dumps(cls())
    finally:
        del sys.modules[old.__name__]


@pytest.mark.parametrize("data", [_pickle_from_a_moved_module(), pickle.dumps({"syllables": {}})],
                         ids=["moved-module", "not-a-vocabulary"])
def test_a_pickle_that_is_not_a_vocabulary_is_none(tmp_path: Path, data: bytes) -> None:
    # Unreadable as a Vocabulary, so None (the snapshot then refuses the generation with "run reindex"),
    # not an ImportError or a dict handed to the snapshot as if it were one.
    (tmp_path / vocabulary.FILE).write_bytes(data)
    assert vocabulary.load(tmp_path) is None
