"""A second look for a query typed without accents: the best matches' own spelling settles an unsure reading.

When the bigram model is unsure of a syllable (``query.restore``), the headlines of the best
EVIDENCE_DOCS matches vote for the readings they hold beside the query's other syllables
(``query.evidence``), the plan is made again with the votes, and the best RERANK_DOCS matches are scored
again with it (``Evaluator.within``: the same arithmetic, over those documents only), each tier apart, so
every-word results still come first. The match set, the totals and the facets do not change: only the
weights of exact forms do, and every form still matches through its folded one. Documents after the
first RERANK_DOCS keep their first-pass order, so every page of a query is cut from one ranking.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from searchsvc.query.evidence import Votes, votes
from searchsvc.query.nodes import Node
from searchsvc.query.plan import Plan
from searchsvc.search.evaluate import Evaluator
from searchsvc.store.snapshot import Snapshot

EVIDENCE_DOCS = 30  # best matches whose headlines vote
RERANK_DOCS = 100  # best matches scored again with the revised reading
SURE = 0.9  # a syllable the model gives one form this share of is not looked at again


def unsure(p: Plan) -> bool:
    """Whether some syllable typed without accents was restored with less than SURE confidence."""
    return any(not s.accented and s.posterior and max(s.posterior.values()) < SURE for run in p.runs or []
               for s in run)


def headline_votes(snapshot: Snapshot, p: Plan, docs: np.ndarray) -> Votes:
    titles = [str(snapshot.stored(int(d)).get("title") or "") for d in docs[:EVIDENCE_DOCS]]
    return votes(p.runs or [], titles)


def rerank(ev: Evaluator, node: Node, docs: np.ndarray, scores: np.ndarray, tier: int,
           lift: Callable[[np.ndarray], np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """``docs`` (ranked, the first ``tier`` of them every-word results) with the first RERANK_DOCS
    ordered by ``node``'s scores within each tier, and their new scores (``lift`` applied)."""
    head = docs[:RERANK_DOCS]
    order = np.argsort(head, kind="stable")
    again = np.empty(len(head), np.float32)
    again[order] = ev.within(head[order]).run(node).score
    if lift is not None:
        again = (again * lift(ev.snapshot.published[head])).astype(np.float32)
    cut = min(tier, len(head))
    at = np.concatenate([np.argsort(-again[:cut], kind="stable"), cut + np.argsort(-again[cut:], kind="stable")])
    return np.concatenate([head[at], docs[RERANK_DOCS:]]), np.concatenate([again[at], scores[RERANK_DOCS:]])
