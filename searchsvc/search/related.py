"""Related articles for editors: content similarity on key terms, shared tags and category, a mild
preference for recent stories; never the article itself; near-duplicates (syndicated copies) collapsed.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from searchsvc.analysis import WORD_JOINER, analyse, fold_text
from searchsvc.query.nodes import Term
from searchsvc.query.plan import STOPWORDS
from searchsvc.search.evaluate import Evaluator, best
from searchsvc.search.hits import hit
from searchsvc.search.postings import TermCache
from searchsvc.search.recency import lift
from searchsvc.search.results import RelatedHit
from searchsvc.store.snapshot import Snapshot

KEY_TERMS = 100  # more key terms find more of a story's section (25: P@5 0.74 on Dân Trí; 100: 0.78)
MAX_REASONS = 5
TITLE_WEIGHT = 2.0
WORD_WEIGHT = 1.5  # pyvi words say more about the topic than single syllables
# An editor's tag, and the category, beside a hundred key terms: doubled (from 3 and 1) when key terms came
# to weigh by sqrt(idf) with a feedback round, which lifted every key term's weight; at 3 a story sharing
# one tag and a coincidental syllable outranked one sharing both of the article's tags (tests/web/test_api.py).
TAG_BOOST = 6.0
CATEGORY_BOOST = 2.0
# Two stories are copies (one syndicated, lightly edited) when this share of their runs of SHINGLE words is
# the same (Jaccard of shingles, over the first SHINGLE_CHARS characters of lead and body).
COPY_SIMILARITY = 0.5
SHINGLE = 4
SHINGLE_CHARS = 4000
TEXT_CHARS = 4000  # of lead and body, for key terms: what a story is about is said early
_WORD = re.compile(r"\w+")
# A related story shares at least this many reasons with the article: distinct key terms (a word and its
# syllables count once) and tags, an editor's own statement of what a story is about.
MIN_CONCEPTS = 2
DISTINCTIVE = 25  # the reasons counted for MIN_CONCEPTS, and shown, come from this many strongest key terms
# Stories of the same days as the article: one event is covered over days, and a competition or a season
# has its weeks. score × (1 + NEAR_WEIGHT × 0.5^(days apart / NEAR_HALF_LIFE_DAYS)), both dated. On VnExpress
# sections it lifted P@5 from 0.600 to 0.651; Dân Trí, one season of news, stayed 0.795 (docs/relevance.md).
NEAR_WEIGHT = 1.0
NEAR_HALF_LIFE_DAYS = 120.0
# Key terms are chosen and weighted by tf × idf^IDF_POWER: BM25 multiplies each by its idf again, and at
# power 1 the rarest words of the one story (idf squared) took the list, leaving slots empty that stories
# of its section would fill (Dân Trí P@10 0.763 → 0.773, VnExpress 0.599 → 0.620 on the tuning sample).
IDF_POWER = 0.5
# Feedback from the first round: a key term held by the FEEDBACK_DOCS best candidates weighs up to
# 1 + FEEDBACK_GAIN times more, by the share of them holding it. What a story shares with its neighbours
# is its topic; what it alone says is incidental (P@5 +0.006 / +0.006 on the tuning sample).
FEEDBACK_DOCS = 10
FEEDBACK_GAIN = 3.0


def _covered(terms: set[str]) -> set[str]:
    """The syllables of the pyvi words among ``terms``: a word and its syllables are one reason."""
    return {part for term in terms if WORD_JOINER in term for part in term.split(WORD_JOINER)}


def concepts(matched: set[str]) -> int:
    """Distinct key terms among ``matched``: a pyvi word and the syllables it is made of count once."""
    covered = _covered(matched)
    return sum(1 for term in matched if term not in covered)


def shingles(fields: Mapping[str, Any]) -> set[int]:
    """The story's runs of SHINGLE words, hashed: what a copy keeps even under a new headline. Words as
    written (NFC, lowercase): a copy keeps its accents, and this costs microseconds, not an analysis."""
    text = "\n".join(fields.get(k) or "" for k in ("lead", "body"))[:SHINGLE_CHARS] or fields.get("title") or ""
    words = _WORD.findall(unicodedata.normalize("NFC", text).lower())
    return {hash(tuple(words[i:i + SHINGLE])) for i in range(max(1, len(words) - SHINGLE + 1))}


def _copies(a: set[int], b: set[int]) -> bool:
    small, large = sorted((len(a), len(b)))
    if not small or small < COPY_SIMILARITY * large:
        return False  # the Jaccard similarity is at most small / large: no need to intersect
    shared = len(a & b)
    return shared / (small + large - shared) >= COPY_SIMILARITY


@dataclass
class Terms:
    """A story's content terms: weight (title terms and pyvi words weigh more) and the spelling first written."""

    weights: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    spelling: dict[str, str] = field(default_factory=dict)


def term_counts(title: str, text: str) -> Terms:
    """Every content term of a story's title and first TEXT_CHARS characters (no stopwords, digits or single
    letters): title terms and pyvi words weigh more. (Weighing names, capitalised words of several
    syllables, 2-3 times more moved same-section precision by under 0.01: docs/relevance.md.)"""
    out = Terms()
    for source, factor in ((title, TITLE_WEIGHT), (text[:TEXT_CHARS], 1.0)):
        for tok in analyse(source):
            if tok.text in STOPWORDS or len(tok.text) < 2 or tok.text.isdigit():
                continue
            out.weights[tok.text] += factor * (WORD_WEIGHT if tok.is_word else 1.0)
            out.spelling.setdefault(tok.text, " ".join(source[tok.start:tok.end].split()))
    return out


def reasons(matched: set[str], terms: list[tuple[str, float]], spelling: dict[str, str], skip: set[str]) -> list[str]:
    """Why a story is related: the key terms it holds, strongest first, a word and its syllables as one
    reason, at most MAX_REASONS, as the article writes them; none that ``skip`` (shared tags, folded) says."""
    covered = _covered(matched)
    out: list[str] = []
    for term, _ in terms:
        if term in matched and term not in covered:
            shown = spelling.get(term) or term.replace(WORD_JOINER, " ")
            if fold_text(shown) not in skip and shown not in out:
                out.append(shown)
        if len(out) == MAX_REASONS:
            break
    return out


def key_terms(snapshot: Snapshot, weights: dict[str, float]) -> list[tuple[str, float]]:
    """The most distinctive of those terms in the index, by tf × idf^IDF_POWER; terms the index lacks drop out."""
    n = max(1, snapshot.doc_count)
    known = snapshot.vocabulary.exact_df  # as of the reindex; terms added since are counted in the postings
    scored = []
    for term, tf in weights.items():
        df = known.get(term) or snapshot.doc_frequency("text", term)
        if df == 0:
            continue
        scored.append((term, (1 + math.log(tf)) * math.log(1 + n / df) ** IDF_POWER))
    scored.sort(key=lambda x: -x[1])
    return scored[:KEY_TERMS]


def _nearness(published: np.ndarray, when: int, docs: np.ndarray) -> np.ndarray:
    """The factor (at least 1) for ``docs`` published near ``when`` (epoch seconds; 0: undated, none)."""
    ts = published[docs].astype(np.float64)
    if when <= 0 or NEAR_WEIGHT <= 0:
        return np.ones(len(docs), np.float32)
    days = np.abs(ts - when) / 86400
    return (1 + np.where(ts > 0, NEAR_WEIGHT * 0.5 ** (days / NEAR_HALF_LIFE_DAYS), 0.0)).astype(np.float32)


def _holding(ids: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Which of ``docs`` are in the ascending posting list ``ids``: a binary search each."""
    if not len(ids):
        return np.zeros(len(docs), bool)
    at = np.minimum(np.searchsorted(ids, docs), len(ids) - 1)
    return ids[at] == docs


def related(snapshot: Snapshot, settings: Mapping[str, Any], stored: Mapping[str, Any], limit: int,
            exclude: int | None, cache: TermCache | None = None) -> list[RelatedHit]:
    """Stories like ``stored``, sharing at least MIN_CONCEPTS of its terms and tags (or all, when it has fewer):
    a draft with nothing in common with the index gets no related stories rather than unrelated ones.

    Ranked by the search's own evaluator (BM25 over the snapshot's postings) and its recency lift, in two
    rounds: the second weighs more the key terms the first round's best candidates share."""
    title = stored.get("title") or ""
    text = "\n".join(stored.get(k) or "" for k in ("lead", "body"))
    counts = term_counts(title, text)
    terms = key_terms(snapshot, counts.weights)
    tags = [t for t in stored.get("tags") or [] if fold_text(t)]
    category = fold_text(stored.get("category") or "")
    top = max((w for _, w in terms), default=1.0)
    should: list[Term] = [Term("text", term, boost=w / top) for term, w in terms]
    should += [Term("tag_key", fold_text(t), boost=TAG_BOOST) for t in tags]
    if category:
        should.append(Term("category_key", category, boost=CATEGORY_BOOST))
    if not should:
        return []
    ev = Evaluator(snapshot, time.monotonic() + float(settings["QUERY_TIME_LIMIT"]), cache)
    ev.fetch("text", [term for term, _ in terms])
    scored = [ev.term_scores(t.field, t.text, t.boost) for t in should]
    v = ev.sum_of_terms(scored)
    if exclude is not None:
        v.match[exclude] = False
    docs = np.flatnonzero(v.match)
    # The same documents match in both rounds: only the key terms' weights change.
    factor = lift(snapshot.published[docs], settings)
    if exclude is not None:
        factor *= _nearness(snapshot.published, int(snapshot.published[exclude]), docs)
    neighbours = docs[best(v.score[docs] * factor, FEEDBACK_DOCS)]
    if len(neighbours) and FEEDBACK_GAIN:
        for i, (ids, _) in enumerate(scored):  # key terms, tags and category alike: none loses its weight
            share = np.count_nonzero(_holding(ids, neighbours)) / len(neighbours)
            should[i] = replace(should[i], boost=should[i].boost * (1 + FEEDBACK_GAIN * share))
        v = ev.sum_of_terms([ev.term_scores(t.field, t.text, t.boost) for t in should])
    scores = v.score[docs] * factor
    order = best(scores, limit * 4 + 1)
    docs, scores = docs[order], scores[order]
    # Which of the strongest key terms each candidate holds: the reasons shown, and how many it shares (a
    # hundred key terms rank; sharing "năm" and "người", far down the list, is no reason).
    distinctive = terms[:DISTINCTIVE]
    holds = {term: _holding(ids, docs) for (term, _), (ids, _) in zip(distinctive, scored)}
    # Counted against all the draft's terms, indexed or not: "xin chào" over an index that has "chào" alone
    # has two, and a story holding "chào" shares one of them.
    needed = min(MIN_CONCEPTS, concepts(set(counts.weights)) + len(tags))
    own_key = fold_text(title)
    own_text = shingles(stored)
    tag_keys = {fold_text(t) for t in tags}
    out: list[RelatedHit] = []
    seen_titles = {own_key} if own_key else set()
    kept_texts: list[set[int]] = []
    for i, (docnum, score) in enumerate(zip(docs.tolist(), scores.tolist())):
        fields = snapshot.stored(docnum)
        key = fold_text(fields.get("title") or "")
        matched = {term for term, held in holds.items() if held[i]}
        shared_tags = [t for t in fields.get("tags") or [] if fold_text(t) in tag_keys]
        if concepts(matched) + len(shared_tags) < needed:
            continue  # one word in common is a coincidence, not a related story
        if key in seen_titles:
            continue  # the same story syndicated under the same headline
        story = shingles(fields)
        if _copies(story, own_text) or any(_copies(story, kept) for kept in kept_texts):
            continue  # a copy of the article itself, or of a story already listed
        seen_titles.add(key)
        kept_texts.append(story)
        why = reasons(matched, distinctive, counts.spelling, {fold_text(t) for t in shared_tags})
        out.append(RelatedHit(hit(snapshot, docnum, score), shared_tags, why))
        if len(out) >= limit:
            break
    return out
