"""The Snapshot contract: what search reads of one opened generation, checked against plain recounts.

A small real index (real news from the packaged sample, plus a hand-written undated article and one
in decomposed Unicode) is read through a Snapshot, and every term's postings, weights and positions
are compared with a plain-Python count over the analysed articles: syllables and pyvi words at their
positions, parts (title, lead, body) one ``PART_GAP`` apart, each occurrence adding its part's weight.
Deleted documents stay in postings but not in ``live``; counts and averages are over live documents.
"""

from __future__ import annotations

import dataclasses
import pickle
import shutil
import unicodedata
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from whoosh.util.numeric import byte_to_length, length_to_byte

from searchsvc.analysis import PART_GAP, analyse, fold_text
from searchsvc.articles import VIETNAM_TZ, Article
from searchsvc.errors import IndexUnavailable
from searchsvc.search.engine import Engine
from searchsvc.store import writer
from searchsvc.store.home import IndexHome
from searchsvc.store.schema import PART_WEIGHTS
from searchsvc.store.snapshot import Snapshot

TEXT_FIELDS = ("text", "text_fold", "title", "title_fold")
HAND = (
    Article(id="h-undated", title="Trẻ em vùng cao đến trường", lead="Học sinh vượt suối đến trường.",
            body="Những em nhỏ ở vùng cao đi bộ hàng giờ để đến trường, trẻ em nào cũng cố gắng.",
            category="Giáo dục", tags=("Trẻ em", "Giáo dục"), author="Lê Minh", published=None),
    Article(id="h-nfd", title=unicodedata.normalize("NFD", "Hà Nội đón mùa mưa lớn"),
            lead=unicodedata.normalize("NFD", "Mưa lớn kéo dài khiến nhiều tuyến phố Hà Nội ngập sâu."),
            body=unicodedata.normalize("NFD", "Người dân Hà Nội vất vả di chuyển trong mưa."),
            category="Thời sự", tags=("Thời tiết",), author="Lê Minh",
            published=datetime(2023, 12, 10, 8, 0, tzinfo=VIETNAM_TZ)),
)
NEW = Article(id="new-1", title="Giá vàng hôm nay tăng mạnh", lead="", body="Giá vàng miếng tăng thêm một triệu đồng.")

Counted = dict[str, dict[int, tuple[float, list[int]]]]  # term -> docnum -> (weight, positions)


@pytest.fixture(scope="module")
def articles(sample_articles: tuple[Article, ...]) -> list[Article]:
    return [*sample_articles[::25], *HAND]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, articles: list[Article]) -> Path:
    home = tmp_path_factory.mktemp("snapshot") / "index"
    writer.build_index(articles, home, procs=1)  # one segment, documents in input order
    return home


@pytest.fixture
def home(built: Path, tmp_path: Path) -> Path:
    out = tmp_path / "index"
    shutil.copytree(built, out)
    return out


@pytest.fixture
def snap(home: Path) -> Snapshot:
    return Snapshot.open(IndexHome(home).current())


def _count(articles: list[Article], field: str) -> Counted:
    """The plain recount: the analysis's tokens of each article's parts, laid end to end."""
    parts_of = (lambda a: (a.title, a.lead, a.body)) if field.startswith("text") else (lambda a: (a.title,))
    weights = PART_WEIGHTS if field.startswith("text") else (1.0,)
    folded = field.endswith("_fold")
    out: dict[str, dict[int, tuple[float, list[int]]]] = defaultdict(dict)
    for docnum, article in enumerate(articles):
        base = 0
        for text, weight in zip(parts_of(article), weights, strict=True):
            if not text:
                continue
            tokens = analyse(text)
            for t in tokens:
                if folded and t.is_word:  # folded fields hold syllables only
                    continue
                term = t.folded if folded else t.text
                w, positions = out[term].get(docnum, (0.0, []))
                out[term][docnum] = (w + weight, [*positions, base + t.pos])
            base += sum(not t.is_word for t in tokens) + PART_GAP
    return out


def _recorded(n: int) -> int:
    """A field length as Whoosh records it: rounded to its one-byte encoding."""
    return int(byte_to_length(length_to_byte(n)))


def _files(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(path.rglob("*"))}


# -- postings and positions ---------------------------------------------------------------------


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_postings_and_positions_match_a_plain_count_over_the_analysed_articles(
        snap: Snapshot, articles: list[Article], field: str) -> None:
    expected = _count(articles, field)
    assert set(snap.terms(field)) == set(expected)
    assert len(expected) > 100 and max(len(by_doc) for by_doc in expected.values()) > 3
    for term, by_doc in expected.items():
        docs, weights = snap.postings(field, term)
        assert docs.dtype == np.int32 and weights.dtype == np.float32
        assert docs.tolist() == sorted(by_doc), (field, term)
        assert weights.tolist() == [by_doc[d][0] for d in sorted(by_doc)], (field, term)
        pdocs, bounds, positions = snap.positions(field, term)
        assert pdocs.tolist() == sorted(by_doc) and len(bounds) == len(pdocs) + 1
        got = [positions[bounds[i]:bounds[i + 1]].tolist() for i in range(len(pdocs))]
        assert got == [sorted(by_doc[d][1]) for d in sorted(by_doc)], (field, term)


def test_positions_of_some_documents_are_theirs_in_the_plain_count_across_segments(
        home: Path, articles: list[Article]) -> None:
    writer.add(IndexHome(home), [NEW])  # a second segment: docnums there are offset by the first's size
    snap = Snapshot.open(IndexHome(home).current())
    assert snap.segments == 2
    everyone = [*articles, NEW]
    rng = np.random.default_rng(7)
    for field in ("text", "text_fold"):
        expected = _count(everyone, field)
        for term in ("vàng", "vang", "giá", "gia", "hà", "ha", "nội", "zzzqqq"):
            by_doc = expected.get(term, {})
            # Holders and non-holders, from both segments, always with the new article's docnum.
            some = rng.choice(snap.n, min(40, snap.n - 1), replace=False)
            docs = np.unique(np.concatenate([some, [snap.n - 1]])).astype(np.int32)
            held, counts, positions = snap.positions_of(field, term, docs)
            assert held.tolist() == [int(d) in by_doc for d in docs], (field, term)
            want = [sorted(by_doc[int(d)][1]) for d in docs if int(d) in by_doc]
            assert counts.tolist() == [len(w) for w in want], (field, term)
            assert positions.tolist() == [p for w in want for p in w], (field, term)
        assert any(snap.positions_of(field, t, np.arange(snap.n, dtype=np.int32))[0][-1] for t in ("vàng", "vang"))
    for field in ("id", "no_field"):  # no positions: nothing is held
        held, counts, positions = snap.positions_of(field, NEW.id, np.arange(snap.n, dtype=np.int32))
        assert not held.any() and len(counts) == len(positions) == 0


def test_keyword_fields_hold_one_posting_per_article_and_unknown_terms_none(snap: Snapshot,
                                                                           articles: list[Article]) -> None:
    for docnum, article in enumerate(articles):
        assert snap.postings("id", article.id)[0].tolist() == [docnum]
        if article.category:
            assert docnum in snap.postings("category_key", fold_text(article.category))[0].tolist()
        for tag in article.tags:
            assert docnum in snap.postings("tag_key", fold_text(tag))[0].tolist()
    for field, term in (("text", "zzzqqq"), ("id", "no-such-id"), ("no_field", "viet")):
        docs, weights = snap.postings(field, term)
        assert len(docs) == len(weights) == 0
        pdocs, bounds, positions = snap.positions(field, term)
        assert len(pdocs) == len(positions) == 0 and bounds.tolist() == [0]
    assert snap.doc_frequency("text", "zzzqqq") == 0


# -- lengths, documents, dates ------------------------------------------------------------------


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_lengths_are_the_recorded_token_counts_and_the_average_is_over_live_documents(
        snap: Snapshot, home: Path, articles: list[Article], field: str) -> None:
    counts = [0] * len(articles)
    for by_doc in _count(articles, field).values():
        for docnum, (_, positions) in by_doc.items():
            counts[docnum] += len(positions)
    recorded = [_recorded(c) for c in counts]
    lengths, average = snap.lengths(field)
    assert lengths.tolist() == recorded
    assert average == pytest.approx(sum(recorded) / len(recorded))
    # BM25's normalisation per document: bit for bit what the same float32 arithmetic gives a gathered list.
    some = np.arange(0, snap.n, 3)
    norm = snap.length_norm(field)
    assert norm.dtype == np.float32 and np.array_equal(norm[some], 1.2 * (1 - 0.75 + 0.75 * lengths[some] / average))
    gone = [articles[0].id, HAND[0].id]
    writer.delete(IndexHome(home), gone)
    after = Snapshot.open(IndexHome(home).current())
    lengths, average = after.lengths(field)
    assert lengths.tolist() == recorded  # per docnum, deleted ones included
    live = [r for a, r in zip(articles, recorded, strict=True) if a.id not in gone]
    assert average == pytest.approx(sum(live) / len(live))


def test_a_field_no_document_has_averages_one(snap: Snapshot) -> None:
    lengths, average = snap.lengths("tag_key")  # not scorable: no lengths recorded
    assert lengths.tolist() == [0] * snap.n and average == 1.0


def test_stored_fields_docnums_and_publication_times(snap: Snapshot, articles: list[Article]) -> None:
    assert snap.n == snap.doc_count == len(articles) and snap.segments == 1
    assert snap.live.tolist() == [True] * len(articles)
    for docnum, article in enumerate(articles):
        assert snap.docnum(article.id) == docnum
        stored = snap.stored(docnum)
        assert (stored["id"], stored["title"], stored["lead"], stored["body"]) == (
            article.id, article.title, article.lead, article.body)
        assert stored["tags"] == list(article.tags) and stored["category"] == article.category
        if article.published is None:
            assert "published" not in stored and snap.published[docnum] == 0
        else:
            assert stored["published"] == article.published.isoformat()
            assert snap.published[docnum] == int(article.published.timestamp()) > 0
    assert snap.docnum("no-such-id") is None
    assert [(d, f["id"]) for d, f in snap.documents()] == [(d, a.id) for d, a in enumerate(articles)]
    assert snap.published.dtype == np.int64 and len(snap.published) == snap.n


def test_deleted_documents_stay_in_postings_but_not_in_live_counts_ids_or_documents(
        home: Path, articles: list[Article]) -> None:
    gone = {articles[1].id, HAND[1].id}
    gone_docs = sorted(d for d, a in enumerate(articles) if a.id in gone)
    writer.delete(IndexHome(home), sorted(gone))
    snap = Snapshot.open(IndexHome(home).current())
    assert snap.n == len(articles) and snap.doc_count == len(articles) - 2
    assert np.flatnonzero(~snap.live).tolist() == gone_docs
    for field in ("text", "text_fold"):
        for term, by_doc in _count(articles, field).items():
            docs, _ = snap.postings(field, term)
            assert docs.tolist() == sorted(by_doc), (field, term)  # deleted documents included
            assert snap.doc_frequency(field, term) == len(set(by_doc) - set(gone_docs)), (field, term)
    hanoi = snap.postings("text_fold", "ha")[0].tolist()
    assert gone_docs[-1] in hanoi and snap.doc_frequency("text_fold", "ha") == len(hanoi) - 1
    for article_id in gone:
        assert snap.docnum(article_id) is None
    assert {f["id"] for _, f in snap.documents()} == {a.id for a in articles} - gone
    assert all(snap.live[d] for d, _ in snap.documents())


# -- commits: reopened() and commit --------------------------------------------------------------


def test_reopened_sees_adds_and_deletes_and_nothing_else(home: Path, articles: list[Article]) -> None:
    ihome = IndexHome(home)
    snap = Snapshot.open(ihome.current())
    n = snap.n
    assert snap.reopened() is None
    writer.add(ihome, [NEW])  # undated: its segment has no publication time at all
    newer = snap.reopened()
    assert newer is not None and newer.commit != snap.commit
    assert (newer.n, newer.doc_count, newer.segments) == (n + 1, n + 1, 2)
    assert newer.docnum(NEW.id) == n and newer.published[n] == 0 and newer.published[:n].tolist() == (
        snap.published.tolist())
    assert newer.vocabulary is snap.vocabulary  # the generation's model stays
    # The new segment's postings follow the first one's, docnums shifted by its size.
    docs, weights = newer.postings("text", "vàng")
    assert docs[-1] == n and weights[-1] == PART_WEIGHTS[0] + PART_WEIGHTS[2]
    pdocs, bounds, positions = newer.positions("text_fold", "vang")
    assert pdocs[-1] == n and positions[bounds[-2]:bounds[-1]].tolist() == [1, 6 + PART_GAP + 1]
    assert newer.positions("text_fold", "vang")[0].tolist() == newer.postings("text_fold", "vang")[0].tolist()
    # The old snapshot still sees its own commit.
    assert snap.n == n and snap.docnum(NEW.id) is None and snap.doc_count == n
    assert newer.reopened() is None
    writer.delete(IndexHome(home), [articles[0].id])
    newest = newer.reopened()
    assert newest is not None and newest.commit not in (snap.commit, newer.commit)
    assert newest.doc_count == n and not newest.live[0] and newest.docnum(articles[0].id) is None
    assert newer.live[0] and newer.docnum(articles[0].id) == 0
    assert newest.reopened() is None


def test_commit_is_stable_without_changes_and_changes_with_an_add(home: Path) -> None:
    ihome = IndexHome(home)
    first, again = Snapshot.open(ihome.current()), Snapshot.open(ihome.current())
    assert first.commit == again.commit and first.commit.startswith(f"{ihome.current().number}-")
    writer.add(ihome, [NEW])
    assert Snapshot.open(ihome.current()).commit != first.commit


# -- what a reader refuses, and never writes ----------------------------------------------------


def test_opening_and_reading_write_nothing(home: Path) -> None:
    before = _files(home)
    snap = Snapshot.open(IndexHome(home).current())
    snap.postings("text", "việt"), snap.positions("text_fold", "viet"), snap.lengths("text"), snap.published
    list(snap.documents())
    snap.close()
    assert _files(home) == before


@pytest.mark.parametrize("damage", ["vocabulary.pickle:missing", "bigrams.npy:missing",
                                    "vocabulary.pickle:truncated", "bigrams.npy:truncated",
                                    "vocabulary.pickle:foreign", "bigrams.npy:foreign"])
def test_a_generation_without_its_vocabulary_or_bigrams_is_refused_and_left_as_it_is(home: Path, damage: str) -> None:
    name, how = damage.split(":")
    gen = IndexHome(home).current()
    path = gen.path / name
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif name == "vocabulary.pickle":
        path.write_bytes(pickle.dumps({"exact_df": {}}))  # a pickle, but not a Vocabulary
    else:
        np.save(path, np.zeros((2, 5), np.float64))  # an array, but not a bigram table
    before = _files(home)
    for open_it in (lambda: Snapshot.open(gen), lambda: Engine.open(home)):
        with pytest.raises(IndexUnavailable) as caught:
            open_it()
        assert "run `searchsvc reindex" in caught.value.message and str(gen.path) in caught.value.message
    assert _files(home) == before  # not rebuilt, not patched up: a reindex's job


# -- blocks (what pruning bounds) -----------------------------------------------------------------


def test_blocks_number_each_segments_documents_and_bound_lengths_and_dates(home: Path,
                                                                            articles: list[Article]) -> None:
    writer.add(IndexHome(home), [NEW, dataclasses.replace(HAND[1], id="h-nfd-2")])
    snap = Snapshot.open(IndexHome(home).current())
    n = len(articles)
    assert snap.segments == 2
    # One short block per segment: blocks never straddle segments.
    assert snap.block_bounds.tolist() == [0, n, n + 2]
    lengths = snap.lengths("text")[0]
    assert snap.block_min_lengths("text").tolist() == [lengths[:n].min(), lengths[n:].min()]
    assert snap.block_published.tolist() == [snap.published[:n].max(), snap.published[n:].max()]
    ids, weights = snap.postings("text", "vàng")
    in_add = ids >= n
    blocks, bounds = snap.frequency_bounds("text", "vàng")
    assert blocks.tolist() == ([0] if (~in_add).any() else []) + [1]
    lengths, average = snap.lengths("text")
    exact = weights * 2.2 / (weights + 1.2 * (0.25 + 0.75 * lengths[ids] / average))  # BM25's k1 1.2, b 0.75
    shortest = snap.block_min_lengths("text")[1]
    by_weight = weights[in_add].max() * 2.2 / (weights[in_add].max() + 1.2 * (0.25 + 0.75 * shortest / average))
    assert exact[in_add].max() <= bounds[-1] <= by_weight * (1 + 1e-6)  # the tighter of the two bounds
    # A field without positions keeps the largest weight.
    tag_ids, tag_weights = snap.postings("tag_key", "gia vang")
    assert snap.block_maxima("tag_key", "gia vang")[1].tolist() == ([tag_weights.max()] if len(tag_ids) else [])
    snap.close()
