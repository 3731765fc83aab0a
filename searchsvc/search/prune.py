"""Top-k pruning: the exact match set for totals and facets, BM25 scores only where they can rank.

A search needs every matching document (the total and the facet counts cover them all) but the scores of
only the best ``k``. So ``collect`` first finds the match set without scoring (boolean vectors), then
bounds each block of ``flat.BLOCK`` docnums from above: a term's bound in a block is the largest BM25
frequency part of its documents there (written by the reindex and by ``add``; ``Snapshot.frequency_bounds``),
times idf and boost at query time; a node's bound is the sum of its scored parts'; the recency lift's
bound is the lift of the block's newest article. Blocks are scored best bound first until ``k`` matches
are scored; every block whose bound reaches the ``k``-th score found is then scored too, and a document
in any other block cannot enter the top ``k``. Scores come from ``Evaluator.within``, the same arithmetic
as the whole evaluation, so the top ``k`` and their scores are those of the exhaustive evaluation (ties
by docnum, as a stable sort over all matches orders them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

import numpy as np

from searchsvc.query.nodes import And, AndMaybe, AndNot, DateRange, Every, Filter, Node, Or, Phrase, Term
from searchsvc.search.evaluate import Evaluator, best

# Bounds are computed in float64 from the float32 inputs and widened by this much, so float32 rounding
# in the exact scores (a few operations per term) can never lift a score above its block's bound.
_MARGIN = 1 + 1e-4

# Once rounds of pruning have scored this share of the matches and still need more, one pass over them
# all is cheaper.
_GIVE_UP = 0.25

Lift = Callable[[np.ndarray], np.ndarray]  # publication times → recency factor (at least 1)


@dataclass
class Collected:
    matched: np.ndarray  # every matching docnum, ascending
    docs: np.ndarray  # the best ``k`` of them, in order
    scores: np.ndarray  # their scores (float32; zeros when sorted by date)
    scored: int  # documents whose score was computed (or, by date, ordered)


def collect(ev: Evaluator, node: Node, k: int, sort: str, lift: Lift | None, exclude: np.ndarray | None = None,
            prune: bool = True) -> Collected:
    """The documents matching ``node`` (less ``exclude``, ascending docnums) and the first ``k`` of them by
    relevance (times ``lift`` of their publication times) or, for ``sort="newest"``, by date."""
    published = ev.snapshot.published
    if sort == "relevance" and prune:
        got = _pruned(ev, node, k, lift, exclude)
        if got is not None:
            return got
    v = ev.run(node)
    if exclude is not None:
        v.match[exclude] = False
    docs = np.flatnonzero(v.match)
    if sort == "newest":
        # Newest first; undated articles last; ties by document order.
        top = docs[np.lexsort((docs, -published[docs]))[:k]]
        return Collected(docs, top, np.zeros(len(top), np.float32), len(docs))
    scores = v.score[docs]
    if lift is not None:
        scores = scores * lift(published[docs])
    order = best(scores, k)
    return Collected(docs, docs[order], scores[order], len(docs))


def _pruned(ev: Evaluator, node: Node, k: int, lift: Lift | None, exclude: np.ndarray | None) -> Collected | None:
    """``collect`` by relevance with pruning; None when the bounds are too loose to gain anything."""
    ev.prefetch(node)
    match = matches(ev, node, 1.0) & ev.snapshot.live
    if exclude is not None:
        match[exclude] = False
    docs = np.flatnonzero(match)
    if k <= 0 or not len(docs):
        return Collected(docs, docs[:0], np.zeros(0, np.float32), 0)
    if len(docs) <= k:
        return None
    candidates, scored = _candidates(ev, node, docs, k, lift)
    if candidates is None:
        return None
    return Collected(docs, *_ranked(ev, node, candidates, k, lift), scored + len(candidates))


def _ranked(ev: Evaluator, node: Node, docs: np.ndarray, k: int, lift: Lift | None) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of ``docs`` (matching, ascending) and their scores."""
    scores = ev.within(docs).run(node).score
    if lift is not None:
        scores = scores * lift(ev.snapshot.published[docs])
    order = best(scores, k)
    return docs[order], scores[order]


def _candidates(ev: Evaluator, node: Node, docs: np.ndarray, k: int,
                lift: Lift | None) -> tuple[np.ndarray | None, int]:
    """The matching documents (ascending) in the blocks whose bound reaches the ``k``-th best score, and
    how many were scored to find that score."""
    snap = ev.snapshot
    bound = np.zeros(len(snap.block_bounds) - 1)
    _bound(ev, node, 1.0, bound)
    if lift is not None:
        # Taken before the exact lift, which is no larger: the lift shrinks as time passes.
        bound *= lift(snap.block_published)
    bound *= _MARGIN
    block = np.searchsorted(snap.block_bounds, docs, side="right") - 1
    counts = np.bincount(block, minlength=len(bound))
    order = np.flatnonzero(counts)
    order = order[np.argsort(-bound[order], kind="stable")]
    ranked = bound[order]
    # Best bound first: score a prefix of the blocks, then as many more (doubling) as the k-th score so far
    # leaves in reach, until every block whose bound reaches it has been scored.
    cumulative = np.cumsum(counts[order])
    taken = int(np.searchsorted(cumulative, k)) + 1
    scored = 0
    while True:
        chosen = np.zeros(len(bound), bool)
        chosen[order[:taken]] = True
        first = docs[chosen[block]]
        scored += len(first)
        kth = _ranked(ev, node, first, k, lift)[1][-1]
        reach = int(np.count_nonzero(ranked >= kth))  # ranked descends: these are order[:reach]
        if reach <= taken:
            return first, scored
        if scored > len(docs) * _GIVE_UP:
            return None, scored  # bounds too close to the scores: one dense pass over everything is cheaper
        taken = min(reach, 2 * taken)


def _bound(ev: Evaluator, node: Node, boost: float, out: np.ndarray) -> None:
    """Adds to ``out`` an upper bound, per block, of the score ``node`` gives a document there."""
    boost *= node.boost
    if boost < 0:
        raise ValueError("a negative boost cannot be bounded")  # plans never make one
    match node:
        case Term():
            _term_bound(ev, node.field, node.text, boost, out)
        case Phrase():
            for word in node.words:
                _term_bound(ev, node.field, word, boost, out)
        case And() | Or():
            for part in node.parts:
                _bound(ev, part, boost, out)
        case AndMaybe():
            _bound(ev, node.required, boost, out)
            _bound(ev, node.optional, boost, out)
        case AndNot():
            _bound(ev, node.positive, boost, out)
        case Filter() | Every() | DateRange():
            pass  # scores nothing
        case _:
            assert_never(node)


def _term_bound(ev: Evaluator, field: str, text: str, boost: float, out: np.ndarray) -> None:
    if not boost:
        return
    blocks, bounds = ev.snapshot.frequency_bounds(field, text)
    if len(blocks):
        out[blocks] += ev.term_weight(field, text, boost) * bounds


def matches(ev: Evaluator, node: Node, boost: float) -> np.ndarray:
    """Which documents match ``node`` (deleted ones included), as ``Evaluator.run`` decides, unscored.

    ``boost`` is tracked only for phrases: the candidates a phrase check keeps are its best-scoring ones,
    so a phrase is checked as the full evaluation checks it (and that check is shared with it).
    """
    boost *= node.boost
    n = ev.snapshot.n
    match node:
        case Term():
            out = np.zeros(n, bool)
            out[ev.postings(node.field, node.text).ids] = True
            return out
        case Phrase():
            return ev._phrase(node, boost).match  # noqa: SLF001  (the one phrase check, shared)
        case And():
            out = matches(ev, node.parts[0], boost)
            for part in node.parts[1:]:
                out &= matches(ev, part, boost)
            return out
        case Or():
            out = np.zeros(n, bool)
            for part in node.parts:
                out |= matches(ev, part, boost)
            return out
        case AndMaybe():
            return matches(ev, node.required, boost)
        case AndNot():
            return matches(ev, node.positive, boost) & ~matches(ev, node.negative, 0.0)
        case Filter():
            return matches(ev, node.child, 0.0)
        case Every() | DateRange():
            return ev.run(node).match
        case _:
            assert_never(node)
