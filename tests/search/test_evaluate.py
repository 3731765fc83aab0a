"""The numpy evaluator: BM25 as computed by hand, the plan nodes' semantics, phrases, and Whoosh's matches.

Scores are checked against BM25 written out here from first principles (k1 = 1.2, b = 0.75, Lucene's
idf, the posting's weight as the term frequency: each occurrence adds its part's weight) on a
three-article index; phrase checks on hand-placed words and on a few hundred random articles in two
segments; match sets against Whoosh's own searcher for the equivalent Whoosh queries.
"""

from __future__ import annotations

import math
import random
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh import query as wq

from searchsvc.articles import VIETNAM_TZ, Article
from searchsvc.query.nodes import And, AndMaybe, AndNot, DateRange, Every, Filter, Node, Or, Phrase, Term
from searchsvc.search import evaluate
from searchsvc.search.evaluate import Evaluator, Vectors, best
from searchsvc.store import writer
from searchsvc.store.home import IndexHome
from searchsvc.store.snapshot import Snapshot

K1, B = 1.2, 0.75
TITLE, LEAD, BODY = 3.0, 1.5, 1.0  # schema.PART_WEIGHTS, written out: the numbers below depend on them
JUNE, JANUARY = (int(datetime(2024, m, d, 8, tzinfo=VIETNAM_TZ).timestamp()) for m, d in ((6, 1), (1, 15)))

# Three articles whose folded text (syllables only) is easy to count by hand:
#   d1: vang bac | gia vang tang | vang mieng    7 syllables; vang 3.0 + 1.5 + 1.0, gia 1.5
#   d2: gia lua | lua gao gia re                 6 syllables; gia 3.0 + 1.0
#   d3: thoi tiet | mua | vang                   4 syllables; vang 1.0
THREE = (
    Article(id="d1", title="Vàng bạc", lead="Giá vàng tăng", body="Vàng miếng",
            published=datetime(2024, 6, 1, 8, tzinfo=VIETNAM_TZ)),
    Article(id="d2", title="Giá lúa", lead="", body="Lúa gạo giá rẻ",
            published=datetime(2024, 1, 15, 8, tzinfo=VIETNAM_TZ)),
    Article(id="d3", title="Thời tiết", lead="Mưa", body="Vàng", published=None),
)
TF = {("vang", "d1"): TITLE + LEAD + BODY, ("vang", "d3"): BODY, ("gia", "d1"): LEAD, ("gia", "d2"): TITLE + BODY}
LENGTH = {"d1": 7, "d2": 6, "d3": 4}


def bm25(term: str, doc: str, n: int = 3, lengths: dict[str, int] = LENGTH) -> float:
    tf = TF.get((term, doc), 0.0)
    if not tf:
        return 0.0
    df = sum(1 for t, _ in TF if t == term)
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    average = sum(lengths.values()) / len(lengths)
    return idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths[doc] / average))


def v(term: str, boost: float = 1.0) -> Term:
    return Term("text_fold", term, boost)


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    home = tmp_path_factory.mktemp("three") / "index"
    writer.build_index(THREE, home, procs=1)
    return Snapshot.open(IndexHome(home).current())


def run(snap: Snapshot, node: Node) -> dict[str, float]:
    """Article id -> score of every match."""
    out = Evaluator(snap, time.monotonic() + 60).run(node)
    assert not out.score[~out.match].any(), "no score outside the matches"
    return {snap.stored(int(d))["id"]: float(out.score[d]) for d in np.flatnonzero(out.match)}


def approx(scores: dict[str, float]) -> object:
    return pytest.approx(scores, rel=1e-5, abs=1e-9)


# -- (a) BM25 from first principles -------------------------------------------------------------


def test_the_index_records_the_lengths_the_hand_computation_uses(three: Snapshot) -> None:
    lengths, average = three.lengths("text_fold")
    assert lengths.tolist() == [LENGTH[a.id] for a in THREE]
    assert average == pytest.approx(17 / 3)
    weights = {(t, three.stored(int(d))["id"]): float(w) for t in ("vang", "gia")
               for d, w in zip(*three.postings("text_fold", t), strict=True)}
    assert weights == TF


@pytest.mark.parametrize("term", ["vang", "gia"])
def test_term_scores_are_bm25_computed_by_hand(three: Snapshot, term: str) -> None:
    expected = {doc: bm25(term, doc) for doc in LENGTH if (term, doc) in TF}
    assert run(three, v(term)) == approx(expected)
    assert run(three, v(term, boost=2.5)) == approx({d: 2.5 * s for d, s in expected.items()})


def test_a_rarer_term_and_more_title_occurrences_score_higher(three: Snapshot) -> None:
    # "mua": one document, lead only; "vang" in d3: two documents, body only. Same document, same length.
    assert run(three, v("mua"))["d3"] > run(three, v("vang"))["d3"] > 0
    assert run(three, v("vang"))["d1"] > run(three, v("vang"))["d3"]


def test_exact_field_scores_use_the_recorded_lengths_with_pyvi_words(three: Snapshot) -> None:
    # The exact field also holds pyvi words, so its lengths are the index's, read here from Whoosh.
    reader = whoosh_index.open_dir(str(three.generation.path)).reader()
    lengths = {a.id: reader.doc_field_length(d, "text") for d, a in enumerate(THREE)}
    assert all(lengths[a] >= LENGTH[a] for a in lengths)
    expected = {doc: bm25("vang", doc, lengths=lengths) for doc in ("d1", "d3")}
    assert run(three, Term("text", "vàng")) == approx(expected)


def test_an_absent_term_matches_nothing(three: Snapshot) -> None:
    assert run(three, v("khong")) == {}
    assert run(three, Term("no_field", "vang")) == {}


# -- (b) the nodes ------------------------------------------------------------------------------


def test_and_or_andmaybe_andnot_add_scores_of_matching_parts(three: Snapshot) -> None:
    vang, gia = {d: bm25("vang", d) for d in ("d1", "d3")}, {d: bm25("gia", d) for d in ("d1", "d2")}
    assert run(three, And((v("vang"), v("gia")))) == approx({"d1": vang["d1"] + gia["d1"]})
    assert run(three, Or((v("vang"), v("gia")))) == approx(
        {"d1": vang["d1"] + gia["d1"], "d2": gia["d2"], "d3": vang["d3"]})
    assert run(three, AndMaybe(v("vang"), v("gia"))) == approx({"d1": vang["d1"] + gia["d1"], "d3": vang["d3"]})
    assert run(three, AndMaybe(v("vang"), v("khong"))) == approx(vang)  # nothing optional: the required alone
    assert run(three, AndNot(v("vang"), v("gia"))) == approx({"d3": vang["d3"]})
    assert run(three, AndNot(v("vang"), v("khong"))) == approx(vang)
    assert run(three, And((v("vang"), v("khong")))) == {}
    assert run(three, Or((v("khong"), v("gia")))) == approx(gia)


@pytest.mark.parametrize("boost", [2.0, 0.5])
def test_boosts_on_and_or_andmaybe_multiply_their_scores(three: Snapshot, boost: float) -> None:
    for node, boosted in (
        (Or((v("vang"), v("gia"))), Or((v("vang"), v("gia")), boost)),
        (And((v("vang"), v("gia"))), And((v("vang"), v("gia")), boost)),
        (AndMaybe(v("vang"), v("gia")), AndMaybe(v("vang"), v("gia"), boost)),
        (AndNot(v("vang"), v("gia")), AndNot(v("vang"), v("gia"), boost)),
        (Phrase("text_fold", ("vang", "bac")), Phrase("text_fold", ("vang", "bac"), boost)),
    ):
        plain = run(three, node)
        assert plain and run(three, boosted) == approx({d: boost * s for d, s in plain.items()}), node
    # Boosts multiply down the tree: 2 on the Or, 3 on a part.
    nested = run(three, Or((v("vang", 3.0), v("gia")), 2.0))
    assert nested == approx({"d1": 6 * bm25("vang", "d1") + 2 * bm25("gia", "d1"), "d2": 2 * bm25("gia", "d2"),
                             "d3": 6 * bm25("vang", "d3")})


def test_filters_match_without_scoring(three: Snapshot) -> None:
    assert run(three, Filter(v("gia"))) == {"d1": 0.0, "d2": 0.0}
    assert run(three, Filter(Or((v("gia"), v("mua"))), boost=5.0)) == {"d1": 0.0, "d2": 0.0, "d3": 0.0}
    assert run(three, And((v("vang"), Filter(v("gia"))))) == approx({"d1": bm25("vang", "d1")})
    # The negative side of an AndNot never scores either, whatever its boost.
    assert run(three, AndNot(v("gia"), v("vang", 9.0))) == approx({"d2": bm25("gia", "d2")})


def test_every_matches_every_live_document_with_no_score(three: Snapshot) -> None:
    assert run(three, Every()) == {"d1": 0.0, "d2": 0.0, "d3": 0.0}
    assert run(three, And((Every(), v("gia")))) == approx({d: bm25("gia", d) for d in ("d1", "d2")})
    assert run(three, AndNot(Every(), v("vang"))) == {"d2": 0.0}


def test_date_ranges_are_inclusive_and_never_match_undated_articles(three: Snapshot) -> None:
    assert run(three, DateRange(None, None)) == {"d1": 0.0, "d2": 0.0}
    assert run(three, DateRange(JANUARY, JUNE)) == {"d1": 0.0, "d2": 0.0}
    assert run(three, DateRange(JUNE, None)) == {"d1": 0.0}
    assert run(three, DateRange(None, JANUARY)) == {"d2": 0.0}
    assert run(three, DateRange(JANUARY + 1, JUNE - 1)) == {}
    assert run(three, DateRange(JUNE + 1, None)) == {}
    assert run(three, And((v("vang"), DateRange(None, None)))) == approx({"d1": bm25("vang", "d1")})


def test_deleted_articles_never_match(tmp_path: Path) -> None:
    home = tmp_path / "index"
    writer.build_index(THREE, home, procs=1)
    writer.delete(IndexHome(home), ["d3"])
    snap = Snapshot.open(IndexHome(home).current())
    out = Evaluator(snap, time.monotonic() + 60).run(Or((v("vang"), Every())))
    assert np.flatnonzero(out.match).tolist() == [0, 1] and out.score[2] == 0.0
    assert run(snap, v("mua")) == {} and run(snap, AndNot(Every(), v("gia"))) == {}


# -- (c) phrases ----------------------------------------------------------------------------------


PLACED = (
    Article(id="p1", title="Giá vàng tăng", lead="", body="Thị trường sôi động."),
    Article(id="p2", title="Vàng giá", lead="", body="Ngược thứ tự."),
    Article(id="p3", title="Tin", lead="", body="Giá cả vàng"),  # a word between
    Article(id="p4", title="Tin giá", lead="Vàng tăng", body=""),  # across two parts
    Article(id="p5", title="Tin", lead="", body="Giá giá vàng"),
    Article(id="p6", title="Vàng vàng vàng", lead="", body="Giá"),
)


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    home = tmp_path_factory.mktemp("placed") / "index"
    writer.build_index(PLACED[:3], home, procs=1)
    writer.add(IndexHome(home), PLACED[3:])  # a second segment
    snap = Snapshot.open(IndexHome(home).current())
    assert snap.segments == 2
    return snap


@pytest.mark.parametrize(("field", "words", "expected"), [
    ("text_fold", ("gia", "vang"), {"p1", "p5"}),
    ("text", ("giá", "vàng"), {"p1", "p5"}),
    ("text_fold", ("vang", "gia"), {"p2"}),
    ("text_fold", ("gia", "vang", "tang"), {"p1"}),
    ("text_fold", ("gia", "gia"), {"p5"}),
    ("text_fold", ("vang", "vang"), {"p6"}),
    ("text_fold", ("vang", "vang", "vang"), {"p6"}),
    ("text_fold", ("vang", "vang", "vang", "vang"), set()),
    ("text_fold", ("tang", "gia"), set()),
    ("text_fold", ("vang",), {"p1", "p2", "p3", "p4", "p5", "p6"}),
])
def test_phrases_match_consecutive_positions_within_one_part_only(placed: Snapshot, field: str,
                                                                  words: tuple[str, ...], expected: set[str]) -> None:
    assert set(run(placed, Phrase(field, words))) == expected


def test_a_phrase_scores_as_its_words_and_is_not_changed_by_later_plans(placed: Snapshot) -> None:
    phrase = Phrase("text_fold", ("gia", "vang"))
    words = run(placed, And((v("gia"), v("vang"))))
    assert run(placed, phrase) == approx({d: words[d] for d in ("p1", "p5")})
    ev = Evaluator(placed, time.monotonic() + 60)
    first = ev.run(phrase)
    ev.run(And((phrase, v("tang"))))  # the checked phrase is reused; combining it must not alter it
    ev.run(Or((phrase, v("thi")), 3.0))
    again = ev.run(phrase)
    assert again.match.tolist() == first.match.tolist() and again.score.tolist() == first.score.tolist()
    assert not ev.partial


WORDS = "trẻ em vùng cao đến trường học sinh mưa lũ miền trung cứu trợ giá vàng tăng".split()


def _random_article(rng: random.Random, i: int) -> Article:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
    return Article(id=f"r{i}", title=rng.choice(WORDS), lead="", body=body)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """700 articles of common words, then 200 more by ``add``: postings of hundreds, two segments."""
    rng = random.Random(7)
    home = tmp_path_factory.mktemp("noisy") / "index"
    writer.build_index([_random_article(rng, i) for i in range(700)], home, procs=1)
    writer.add(IndexHome(home), [_random_article(rng, i) for i in range(700, 900)])
    return home


def _whoosh_matches(home: Path, q: wq.Query) -> set[int]:
    with whoosh_index.open_dir(str(IndexHome(home).current().path)).searcher() as searcher:
        return set(searcher.docs_for_query(q))


def _matches(v: Vectors) -> set[int]:
    return set(np.flatnonzero(v.match).tolist())


@pytest.mark.parametrize("words", [("trẻ", "em"), ("vùng", "cao", "đến"), ("giá", "vàng", "tăng"), ("em", "em"),
                                   ("em", "em", "em"), ("cứu", "trợ", "mưa")])
def test_phrases_of_common_words_over_two_segments_match_what_whoosh_matches(noisy: Path,
                                                                            words: tuple[str, ...]) -> None:
    snap = Snapshot.open(IndexHome(noisy).current())
    assert snap.segments == 2 and snap.n == 900
    assert len(snap.postings("text", words[0])[0]) > 300  # long postings
    ev = Evaluator(snap, time.monotonic() + 60)
    ours = _matches(ev.run(Phrase("text", words)))
    expected = _whoosh_matches(noisy, wq.Phrase("text", list(words)))
    assert ours == expected and expected and not ev.partial
    assert any(d >= 700 for d in expected), "the added segment has matches too"


def test_more_candidates_than_phrase_candidates_checks_the_best_and_says_partial(
        noisy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = Snapshot.open(IndexHome(noisy).current())
    words: tuple[str, ...] = ("trẻ", "em")
    every_word = Evaluator(snap, time.monotonic() + 60).run(And(tuple(Term("text", w) for w in words)))
    expected = _whoosh_matches(noisy, wq.Phrase("text", list(words)))
    assert len(expected) > 20
    monkeypatch.setattr(evaluate, "PHRASE_CANDIDATES", 20)
    ev = Evaluator(snap, time.monotonic() + 60)
    got = _matches(ev.run(Phrase("text", words)))
    assert ev.partial
    best = set(np.argsort(-every_word.score, kind="stable")[:20].tolist())
    assert got and got == expected & best
    # As many candidates as PHRASE_CANDIDATES: all checked, nothing partial; one more than it: partial.
    words = ("vùng", "cao", "đến")
    candidates = len(_matches(Evaluator(snap, time.monotonic() + 60).run(And(tuple(Term("text", w) for w in words)))))
    expected = _whoosh_matches(noisy, wq.Phrase("text", list(words)))
    monkeypatch.setattr(evaluate, "PHRASE_CANDIDATES", candidates)
    ev = Evaluator(snap, time.monotonic() + 60)
    assert _matches(ev.run(Phrase("text", words))) == expected and not ev.partial
    monkeypatch.setattr(evaluate, "PHRASE_CANDIDATES", candidates - 1)
    ev = Evaluator(snap, time.monotonic() + 60)
    got = _matches(ev.run(Phrase("text", words)))
    assert ev.partial and got <= expected and len(expected) - 1 <= len(got)


def test_a_phrase_past_its_deadline_keeps_its_unchecked_candidates_and_says_partial(noisy: Path) -> None:
    snap = Snapshot.open(IndexHome(noisy).current())
    ev = Evaluator(snap, time.monotonic() - 1)
    got = _matches(ev.run(Phrase("text", ("trẻ", "em"))))
    assert ev.partial
    assert got == _matches(Evaluator(snap, time.monotonic() + 60).run(And((Term("text", "trẻ"), Term("text", "em")))))


# -- (d) the same matches as Whoosh -------------------------------------------------------------


EQUIVALENT: list[tuple[Node, wq.Query]] = [
    (Term("text_fold", "tre"), wq.Term("text_fold", "tre")),
    (Term("text", "công_nhân"), wq.Term("text", "công_nhân")),
    (And((Term("text_fold", "tre"), Term("text_fold", "em"))), wq.And([wq.Term("text_fold", "tre"),
                                                                      wq.Term("text_fold", "em")])),
    (Or((Term("text", "vàng"), Term("text", "mưa"))), wq.Or([wq.Term("text", "vàng"), wq.Term("text", "mưa")])),
    (AndNot(Term("text_fold", "tre"), Term("text_fold", "doanh")),
     wq.AndNot(wq.Term("text_fold", "tre"), wq.Term("text_fold", "doanh"))),
    (AndMaybe(Term("text_fold", "tre"), Term("text_fold", "vung")),
     wq.AndMaybe(wq.Term("text_fold", "tre"), wq.Term("text_fold", "vung"))),
    (Phrase("text_fold", ("vung", "cao")), wq.Phrase("text_fold", ["vung", "cao"])),
    (Phrase("text", ("trẻ", "em")), wq.Phrase("text", ["trẻ", "em"])),
    (Phrase("text_fold", ("cong", "nhan")), wq.Phrase("text_fold", ["cong", "nhan"])),
    (Filter(Term("tag_key", "tre em")), wq.Term("tag_key", "tre em")),
    (And((Term("text_fold", "ha"), Phrase("text_fold", ("mua", "lon")))),
     wq.And([wq.Term("text_fold", "ha"), wq.Phrase("text_fold", ["mua", "lon"])])),
]


@pytest.mark.parametrize("changed", [False, True], ids=["as-built", "after-add-and-delete"])
@pytest.mark.parametrize(("ours", "theirs"), EQUIVALENT, ids=[repr(q) for _, q in EQUIVALENT])
def test_matches_what_whoosh_matches(index_dir: Path, ours: Node, theirs: wq.Query, changed: bool) -> None:
    if changed:
        home = IndexHome(index_dir)
        writer.add(home, [Article(id="n1", title="Trẻ em vùng cao", lead="Công nhân", body="Mưa lớn ở Hà Nội.")])
        writer.delete(home, ["a1", "a4"])
    snap = Snapshot.open(IndexHome(index_dir).current())
    expected = _whoosh_matches(index_dir, theirs)
    assert expected, "a query that matches nothing checks little"
    assert _matches(Evaluator(snap, time.monotonic() + 60).run(ours)) == expected


UPDATED = (Article(id="d1", title="Vàng bạc", lead="Giá vàng tăng", body="Vàng miếng"),
           Article(id="d2", title="Giá lúa", body="Lúa gạo giá rẻ"),
           Article(id="d3", title="Thời tiết", lead="Mưa", body="Vàng"))


def _vang_scores(home: Path) -> dict[str, float]:
    snap = Snapshot.open(IndexHome(home).current())
    out = Evaluator(snap, time.monotonic() + 60).run(Term("text_fold", "vang"))
    return {snap.stored(int(d))["id"]: float(out.score[d]) for d in np.flatnonzero(out.match)}


def test_replacing_an_article_by_an_identical_copy_leaves_scores_as_they_were(tmp_path: Path) -> None:
    # A replaced article's old copy stays in the postings until a merge: df counts live documents only.
    home = tmp_path / "index"
    writer.build_index(UPDATED, home, procs=1)
    before = _vang_scores(home)
    writer.add(IndexHome(home), [UPDATED[0]])  # an update that changes nothing a reader can see
    assert _vang_scores(home) == pytest.approx(before, rel=1e-5)


# -- (f) a restricted evaluator: the same scores at fewer documents --------------------------------


NODES = (
    v("vang"), And((v("gia"), v("vang"))), Or((v("gia"), v("vang", 2.0)), 1.5), AndMaybe(v("vang"), v("tang")),
    AndNot(v("vang"), v("tang")), Phrase("text_fold", ("gia", "vang")), And((v("vang"), Filter(v("gia")))),
    And((v("gia"), DateRange(JANUARY, None))), Every(),
)


@pytest.mark.parametrize("node", NODES)
@pytest.mark.parametrize("within", [(0, 4), (1, 2, 5), (), (0, 1, 2, 3, 4, 5)])
def test_within_gives_the_full_evaluations_matches_and_scores_at_those_documents(
        placed: Snapshot, node: Node, within: tuple[int, ...]) -> None:
    ev = Evaluator(placed, time.monotonic() + 60)
    full = ev.run(node)
    docs = np.array(within, np.int64)
    part = ev.within(docs).run(node)
    assert part.match.tolist() == full.match[docs].tolist()
    assert part.score.tolist() == full.score[docs].tolist()  # exactly: pruning compares scores bit for bit
    alone = Evaluator(placed, time.monotonic() + 60).within(docs).run(node)  # no full evaluation before it
    assert alone.score.tolist() == part.score.tolist() and alone.match.tolist() == part.match.tolist()


def test_the_best_k_are_those_a_stable_sort_of_all_would_give_ties_included() -> None:
    rng = np.random.default_rng(3)
    for n, k in ((0, 5), (3, 5), (41, 41), (1000, 41), (5000, 1), (100, 0), (0, 0)):
        scores = rng.integers(0, 20, n).astype(np.float32)  # many ties, also across the k-th place
        assert best(scores, k).tolist() == np.argsort(-scores, kind="stable")[:k].tolist(), (n, k)


def test_intersect_is_numpy_s_sorted_intersection() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        a = np.unique(rng.integers(0, 60, rng.integers(0, 30)))
        b = np.unique(rng.integers(0, 60, rng.integers(0, 30)))
        got = evaluate._intersect(a, b)
        assert got.tolist() == np.intersect1d(a, b).tolist()
        assert evaluate._intersect(b, a).tolist() == got.tolist()
