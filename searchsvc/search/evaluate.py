"""BM25 and phrase checks over a Snapshot: a plan (``query.nodes``) in, a score and a match per document out.

Totals and facets cover the whole result set, so every match is needed, not only the best few: each
term's postings are read whole from the snapshot (decode-free arrays) and the plan is evaluated as dense
score and match vectors over the snapshot's document numbers, with numpy. Scores are BM25
(k1 = 1.2, b = 0.75) with the index's per-part weights already in the postings' weights (BM25F); every
node's boost multiplies what is below it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import assert_never

import numpy as np

from searchsvc.query.nodes import And, AndMaybe, AndNot, DateRange, Every, Filter, Node, Or, Phrase, Term
from searchsvc.search.postings import TermCache, TermPostings
from searchsvc.store.snapshot import Snapshot

PHRASE_CANDIDATES = 2000  # best-scoring documents whose positions a phrase query checks


@dataclass
class Vectors:
    score: np.ndarray  # float32 per docnum
    match: np.ndarray  # bool per docnum


def idf(n: int, df: int) -> float:
    """BM25's inverse document frequency (never negative: Lucene's ``1 +`` inside the log)."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class Evaluator:
    """Evaluates plans over one snapshot until ``deadline`` (``time.monotonic()``); ``partial`` says
    whether a phrase check was cut short.

    ``within(docs)`` gives an evaluator whose vectors cover only ``docs`` (ascending docnums), with the
    same arithmetic per document, so its scores are exactly those of the whole evaluation at those
    documents: pruning (``prune.py``) scores only the documents that can rank.
    """

    def __init__(self, snapshot: Snapshot, deadline: float, cache: TermCache | None = None) -> None:
        self.snapshot = snapshot
        self.cache = cache  # the snapshot's long posting lists, shared by its searches
        self.deadline = deadline
        self.partial = False
        self.universe: np.ndarray | None = None  # the docnums the vectors cover; None: every docnum
        self._root = self
        # Phrases already checked: the every-word and the any-word plan of a search share them.
        self._phrases: dict[tuple[str, tuple[str, ...], float], Vectors] = {}
        # Each term's postings, read once per search (or found in ``cache``).
        self._postings: dict[tuple[str, str], TermPostings] = {}

    def within(self, docs: np.ndarray) -> Evaluator:
        sub = Evaluator(self.snapshot, self.deadline, self.cache)
        sub._root, sub._phrases, sub._postings = self._root, self._phrases, self._postings
        sub.universe = docs
        return sub

    @property
    def size(self) -> int:
        return self.snapshot.n if self.universe is None else len(self.universe)

    def empty(self) -> Vectors:
        return Vectors(np.zeros(self.size, np.float32), np.zeros(self.size, bool))

    def postings(self, field: str, text: str) -> TermPostings:
        """A term's postings (deleted documents included) and live document frequency."""
        key = (field, text)
        got = self._postings.get(key)
        if got is None:
            self.fetch(field, [text])
            got = self._postings[key]
        return got

    def fetch(self, field: str, texts: list[str]) -> None:
        """Read the postings of many terms at once (``postings`` then finds them): those the cache lacks
        with one search of each segment's term table instead of one per term."""
        missing = []
        for text in dict.fromkeys(texts):
            key = (field, text)
            if key not in self._postings:
                kept = self.cache.get(key) if self.cache is not None else None
                if kept is None:
                    missing.append(text)
                else:
                    self._postings[key] = kept
        if not missing:
            return  # a second run of the same plan (pruning's rounds, a second look) reads nothing
        read = self.snapshot.postings_many(field, missing) if len(missing) > 1 else [
            self.snapshot.postings(field, missing[0])]
        for text, got in zip(missing, read):
            self._postings[field, text] = TermPostings.read(self.snapshot, got)

    def scored(self, field: str, text: str) -> TermPostings:
        """``postings`` with BM25's frequency part computed, offered to the cache (only scored lists are kept)."""
        p = self.postings(field, text)
        if not p.scored:
            p.tf(self.snapshot, field)
            if self.cache is not None:
                self.cache.offer((field, text), p)
        return p

    def prefetch(self, node: Node) -> None:
        """``fetch`` every term and phrase word of ``node``, a field at a time: a segment's term table is
        then searched once per field of a query, not once per term (an archive has dozens of segments)."""
        by_field: dict[str, list[str]] = {}
        for field, text in _terms(node):
            by_field.setdefault(field, []).append(text)
        for field, texts in by_field.items():
            self.fetch(field, texts)

    def term_weight(self, field: str, text: str, boost: float) -> float:
        """What multiplies a term's length-normalised frequency: its idf and boost."""
        return boost * idf(max(1, self.snapshot.doc_count), self.postings(field, text).df)

    def term_scores(self, field: str, text: str, boost: float) -> tuple[np.ndarray, np.ndarray]:
        """(docnums, BM25 scores) of the documents holding a term, deleted ones included."""
        p = self.postings(field, text)
        weight = boost and self.term_weight(field, text, boost)
        if not len(p.ids) or not weight:
            return p.ids, np.zeros(len(p.ids), np.float32)
        return p.ids, self.scored(field, text).tf(self.snapshot, field) * np.float32(weight)

    def term(self, field: str, text: str, boost: float) -> Vectors:
        v = self.empty()
        if self.universe is None:
            self._add_term(v, field, text, boost)
            return v
        p = self.postings(field, text)
        ids = p.ids
        if not len(ids) or not len(self.universe):
            return v
        # Each universe document's posting, if any, by binary search: a few documents of a long list
        # cost their own number of steps, not the list's length.
        at = np.minimum(np.searchsorted(ids, self.universe), len(ids) - 1)
        inside = ids[at] == self.universe
        v.match[inside] = True
        weight = boost and self.term_weight(field, text, boost)
        if weight:
            v.score[inside] = self.scored(field, text).tf(self.snapshot, field)[at[inside]] * np.float32(weight)
        return v

    def _add_term(self, out: Vectors, field: str, text: str, boost: float) -> None:
        """``out`` plus ``term``'s vectors, in place: a list is added where it is, not spread into vectors of
        the whole archive first (an ``Or`` of a word's forms, in every query). The same float32 sums."""
        p = self.postings(field, text)
        if p.kept and p.is_dense:  # kept: scored before
            tf, match = p.dense(self.snapshot, field)
            weight = boost and self.term_weight(field, text, boost)
            if weight:
                out.score += tf * np.float32(weight)
            out.match |= match
            return
        ids, scores = self.term_scores(field, text, boost)
        out.match[ids] = True
        out.score[ids] += scores

    def sum_of_terms(self, terms: list[tuple[np.ndarray, np.ndarray]]) -> Vectors:
        """Live documents holding any of the terms (``term_scores`` of each), their scores summed: an ``Or``
        of many terms in one pass, for related stories' hundred key terms."""
        if not terms:
            return self.empty()
        ids = np.concatenate([i for i, _ in terms])
        n = self.snapshot.n
        score = np.bincount(ids, weights=np.concatenate([s for _, s in terms]), minlength=n).astype(np.float32)
        match = np.bincount(ids, minlength=n).astype(bool) & self.snapshot.live
        score[~match] = 0.0
        return Vectors(score, match)

    def run(self, node: Node) -> Vectors:
        """Live documents matching ``node``, with their scores (0 elsewhere)."""
        self.prefetch(node)
        v = self._eval(node, 1.0)
        v.match &= self._column(self.snapshot.live)
        v.score[~v.match] = 0.0
        return v

    def _column(self, values: np.ndarray) -> np.ndarray:
        """A per-docnum array, restricted to the universe."""
        return values if self.universe is None else values[self.universe]

    def _eval(self, node: Node, boost: float) -> Vectors:
        boost *= node.boost
        match node:
            case Term():
                return self.term(node.field, node.text, boost)
            case Phrase():
                return self._phrase(node, boost)
            case And():
                out = self._eval(node.parts[0], boost)
                for part in node.parts[1:]:
                    v = self._eval(part, boost)
                    out.match &= v.match
                    out.score += v.score
                return out
            case Or():
                out = self.empty()
                for part in node.parts:
                    if isinstance(part, Term) and self.universe is None:
                        self._add_term(out, part.field, part.text, boost * part.boost)
                        continue
                    v = self._eval(part, boost)
                    out.match |= v.match
                    out.score += v.score
                return out
            case AndMaybe():
                req = self._eval(node.required, boost)
                opt = self._eval(node.optional, boost)
                req.score += np.where(req.match, opt.score, 0.0).astype(np.float32)
                return req
            case AndNot():
                pos = self._eval(node.positive, boost)
                pos.match &= ~self._eval(node.negative, 0.0).match
                return pos
            case Filter():
                v = self._eval(node.child, 0.0)
                v.score[:] = 0.0
                return v
            case Every():
                v = self.empty()
                v.match[:] = True
                return v
            case DateRange():
                published = self._column(self.snapshot.published)
                v = self.empty()
                v.match = published > 0
                if node.start is not None:
                    v.match &= published >= node.start
                if node.end is not None:
                    v.match &= published <= node.end
                return v
            case _:
                assert_never(node)

    def _phrase(self, node: Phrase, boost: float) -> Vectors:
        """Documents holding every word, then positions checked on those candidates only, best first.

        A phrase of common, unaccented syllables (``co the``) has most of the index as candidates: only
        the PHRASE_CANDIDATES best-scoring are checked (the rest are dropped); if the deadline passes
        first, the unchecked ones are kept as they are (they hold every word). Either way the result is
        flagged partial.
        """
        key = (node.field, node.words, boost)
        done = self._phrases.get(key)
        if done is None:
            # Checked over every docnum, even for a restricted evaluator: which candidates are checked
            # depends on all of them.
            done = self._phrases[key] = self._root._check_phrase(node, boost)
        if self.universe is not None:
            return Vectors(done.score[self.universe], done.match[self.universe])
        return Vectors(done.score.copy(), done.match.copy())  # callers combine vectors in place

    def _check_phrase(self, node: Phrase, boost: float) -> Vectors:
        out = self.term(node.field, node.words[0], boost)
        for word in node.words[1:]:
            v = self.term(node.field, word, boost)
            out.match &= v.match
            out.score += v.score
        cand = np.flatnonzero(out.match)
        if len(cand) == 0 or len(node.words) < 2:
            return out
        if len(cand) > PHRASE_CANDIDATES:
            self.partial = True
        checked = np.sort(cand[best(out.score[cand], PHRASE_CANDIDATES)])
        ok = self._positions_match(node.field, list(node.words), checked)
        out.match[:] = False
        out.match[ok] = True
        return out

    def _positions_match(self, field: str, words: list[str], docs: np.ndarray) -> np.ndarray:
        """The docs (ascending) in which the words occur at consecutive positions.

        Every occurrence becomes a key ``doc << 32 | phrase start``; a phrase match is a key every word
        has, found with one sorted intersection per word (rarest first, each narrowing the candidates).
        """
        order = sorted(range(len(words)), key=lambda i: len(self.postings(field, words[i]).ids))
        keys: np.ndarray | None = None
        for i in order:
            if time.monotonic() > self.deadline:
                # Out of time: the unchecked candidates hold every word; keep them, flagged partial.
                self.partial = True
                break
            got = self._keys(field, words[i], docs, i)
            keys = got if keys is None else _intersect(keys, got)
            holders = keys >> 32  # ascending, each document once per occurrence
            docs = holders[np.flatnonzero(np.diff(holders, prepend=-1))]
            if not len(docs):
                break
        return docs

    def _keys(self, field: str, word: str, docs: np.ndarray, shift: int) -> np.ndarray:
        """``doc << 32 | position - shift`` for every occurrence of ``word`` in ``docs``, ascending: ``docs``
        ascend, and a document's positions are stored in order (``analysis.term_positions``)."""
        held, counts, pos = self.snapshot.positions_of(field, word, docs)
        keys = (np.repeat(docs[held].astype(np.int64), counts) << 32) + pos - shift
        return keys[pos >= shift]


def _intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values in both ascending, duplicate-free arrays, ascending: the shorter one looked up in the
    longer (``np.intersect1d`` sorts both together, and a common word's keys are most of the work)."""
    if len(a) > len(b):
        a, b = b, a
    if not len(b):
        return b
    at = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return a[b[at] == a]


def _terms(node: Node) -> Iterator[tuple[str, str]]:
    """(field, text) of every term and phrase word under ``node``."""
    match node:
        case Term():
            yield node.field, node.text
        case Phrase():
            yield from ((node.field, word) for word in node.words)
        case And() | Or():
            for part in node.parts:
                yield from _terms(part)
        case AndMaybe():
            yield from _terms(node.required)
            yield from _terms(node.optional)
        case AndNot():
            yield from _terms(node.positive)
            yield from _terms(node.negative)
        case Filter():
            yield from _terms(node.child)
        case Every() | DateRange():
            pass
        case _:
            assert_never(node)


def best(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest scores, best first, ties in position order (as a stable sort of all
    would give), without sorting every match: a common word matches most of the archive."""
    if k <= 0:
        return np.zeros(0, np.intp)
    if len(scores) <= k:
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    above = np.flatnonzero(scores >= kth)  # the k best and any tied with the k-th
    return above[np.argsort(-scores[above], kind="stable")][:k]
