"""A second look for a query typed without accents: the best matches' own spelling settles an unsure reading.

When the bigram model is unsure of a syllable (``query.restore``), the headlines of the best
EVIDENCE_DOCS matches, and of up to TITLE_DOCS more that hold a whole run folded (a known item a wrong
reading ranked low), vote for the readings they hold beside the query's other syllables
(``query.evidence``). The plan is made again with the votes, and those documents with the best
RERANK_DOCS are scored again with it (``Evaluator.within``: the same arithmetic, over those documents
only), every-word results still first. The match set, the totals and the facets do not change: only the
weights of exact forms do, and every form still matches through its folded one. The documents after them
keep their first-pass order, and which documents are looked at again does not depend on the page, so
every page of a query is cut from one ranking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from searchsvc.query.evidence import Votes, votes
from searchsvc.query.nodes import Phrase
from searchsvc.query.plan import Plan
from searchsvc.search.evaluate import Evaluator, best
from searchsvc.search.prune import Collected

EVIDENCE_DOCS = 20  # best matches whose headlines vote
RERANK_DOCS = 100  # best matches scored again with the revised reading
TITLE_DOCS = 10  # per run, headlines holding it whole (folded) that vote and are scored again too
SURE = 0.9  # a syllable the model gives one form this share of is not looked at again


def unsure(p: Plan) -> bool:
    """Whether some syllable typed without accents was restored with less than SURE confidence."""
    return any(not s.accented and s.posterior and max(s.posterior.values()) < SURE for run in p.runs or []
               for s in run)


def _title_holders(ev: Evaluator, p: Plan, matched: np.ndarray) -> np.ndarray:
    """Matching documents whose headline holds a whole restored run folded (``he de phoi``), best first:
    the known item a reader typed a headline of, wherever a wrong reading ranked it."""
    found = []
    for run in p.runs or []:
        if len(run) >= 2 and not all(s.accented for s in run):
            v = ev.run(Phrase("title_fold", tuple(s.folded for s in run)))
            ids = np.flatnonzero(v.match)
            ids = ids[np.isin(ids, matched)]
            found.append(ids[best(v.score[ids], TITLE_DOCS)])
    return np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)


def second_look(ev: Evaluator, p: Plan, got: Collected, every: int | None, replan: Callable[[Votes], Plan],
                lift: Callable[[np.ndarray], np.ndarray] | None,
                headline: Callable[[int], tuple[str, str]]) -> tuple[Plan, Collected]:
    """The plan made again with the votes of the best matches' headlines, and ``got`` ranked again by it:
    the first RERANK_DOCS and the headlines holding a whole run, each tier apart (the first ``every``
    of ``got.matched`` hold every word; None: one tier). ``headline`` gives a document's headline and its
    ``fold_text``."""
    head = got.docs[:RERANK_DOCS]
    extra = np.setdiff1d(_title_holders(ev, p, got.matched), head)
    voters = np.concatenate([got.docs[:EVIDENCE_DOCS], extra])
    titles = [headline(d) for d in voters.tolist()]
    found = votes(p.runs or [], [t[0] for t in titles], [t[1] for t in titles])
    revised = replan(found) if found else None
    if revised is None or revised.loose is None:
        return p, got
    pool = np.concatenate([head, extra])
    order = np.argsort(pool, kind="stable")
    again = np.empty(len(pool), np.float32)
    again[order] = ev.within(pool[order]).run(revised.loose).score
    if lift is not None:
        again = (again * lift(ev.snapshot.published[pool])).astype(np.float32)
    tier = np.isin(pool, got.matched if every is None else got.matched[:every])
    at = np.lexsort((-again, ~tier))  # every-word results first, then by the new score
    rest = ~np.isin(got.docs[RERANK_DOCS:], extra)
    docs = np.concatenate([pool[at], got.docs[RERANK_DOCS:][rest]])
    scores = np.concatenate([again[at], got.scores[RERANK_DOCS:][rest]])
    return revised, replace(got, docs=docs, scores=scores)
