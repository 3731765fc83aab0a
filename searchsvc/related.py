"""Related articles for editors: content similarity on key terms, shared tags and category, a mild
preference for recent stories; never the article itself; near-duplicates (syndicated copies) collapsed.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from whoosh import query as wq

from searchsvc.analysis import WORD_JOINER, analyse, fold_text
from searchsvc.matching import STOPWORDS

if TYPE_CHECKING:
    from searchsvc.search import Engine, RelatedHit

KEY_TERMS = 25
TITLE_WEIGHT = 2.0
WORD_WEIGHT = 1.5  # pyvi words say more about the topic than single syllables
TAG_BOOST = 3.0
CATEGORY_BOOST = 1.0
DUPLICATE_SIMILARITY = 0.8
# A related story shares at least this many reasons with the article: distinct key terms (a word and its
# syllables count once) and tags, an editor's own statement of what a story is about.
MIN_CONCEPTS = 2


def concepts(matched: set[str]) -> int:
    """Distinct key terms among ``matched``: a pyvi word and the syllables it is made of count once."""
    covered = {part for term in matched if WORD_JOINER in term for part in term.split(WORD_JOINER)}
    return sum(1 for term in matched if term not in covered)


def term_counts(title: str, text: str) -> dict[str, float]:
    """Every content term of a text (no stopwords, digits or single letters), title terms and words weighing more."""
    weights: dict[str, float] = defaultdict(float)
    for source, factor in ((title, TITLE_WEIGHT), (text, 1.0)):
        for tok in analyse(source):
            if tok.text in STOPWORDS or len(tok.text) < 2 or tok.text.isdigit():
                continue
            weights[tok.text] += factor * (WORD_WEIGHT if tok.is_word else 1.0)
    return weights


def key_terms(engine: Engine, weights: dict[str, float]) -> list[tuple[str, float]]:
    """The most distinctive of those terms in the index, by tf-idf; terms the index lacks drop out."""
    reader = engine.searcher.reader()
    n = max(1, reader.doc_count())
    scored = []
    for term, tf in weights.items():
        df = reader.doc_frequency("text", term)
        if df == 0:
            continue
        scored.append((term, (1 + math.log(tf)) * math.log(1 + n / df)))
    scored.sort(key=lambda x: -x[1])
    return scored[:KEY_TERMS]


def related(engine: Engine, stored: dict[str, Any], limit: int, exclude: int | None) -> list[RelatedHit]:
    """Stories like ``stored``, sharing at least MIN_CONCEPTS of its terms and tags (or all, when it has fewer):
    a draft with nothing in common with the index gets no related stories rather than unrelated ones."""
    from searchsvc.search import RelatedHit

    title = stored.get("title") or ""
    text = "\n".join(stored.get(k) or "" for k in ("lead", "body"))
    counts = term_counts(title, text)
    terms = key_terms(engine, counts)
    tags = [t for t in stored.get("tags") or [] if fold_text(t)]
    category = fold_text(stored.get("category") or "")
    top = max((w for _, w in terms), default=1.0)
    should: list[wq.Query] = [wq.Term("text", term, boost=w / top) for term, w in terms]
    should += [wq.Term("tag_key", fold_text(t), boost=TAG_BOOST) for t in tags]
    if category:
        should.append(wq.Term("category_key", category, boost=CATEGORY_BOOST))
    if not should:
        return []
    searcher = engine.searcher
    results = searcher.search(wq.Or(should), limit=limit * 4 + 1, terms=True)
    now = time.time()
    col = engine.published()
    own_key = fold_text(title)
    own_terms = {t for t, _ in terms}
    tag_keys = {fold_text(t) for t in tags}
    scored: list[tuple[float, int, Any]] = []
    for hit in results:
        if hit.docnum == exclude:
            continue
        ts = col[hit.docnum]
        recency = 1 + 0.1 * 0.5 ** (max(0.0, now - ts) / (180 * 86400)) if ts else 1.0
        scored.append((hit.score * recency, hit.docnum, hit))
    scored.sort(key=lambda x: -x[0])
    out: list[RelatedHit] = []
    seen_titles = {own_key} if own_key else set()
    kept_terms: list[set[str]] = []
    for score, docnum, hit in scored:
        fields = hit.fields()
        key = fold_text(fields.get("title") or "")
        matched = {t.decode("utf-8") if isinstance(t, bytes) else t for f, t in hit.matched_terms()
                   if f == "text"}
        shared_tags = [t for t in fields.get("tags") or [] if fold_text(t) in tag_keys]
        # Counted against all the draft's terms, indexed or not: "xin chào" over an index that has "chào"
        # alone has two, and a story holding "chào" shares one of them.
        if concepts(matched & own_terms) + len(shared_tags) < min(MIN_CONCEPTS, concepts(set(counts)) + len(tags)):
            continue  # one word in common is a coincidence, not a related story
        if key in seen_titles:
            continue  # the same story syndicated under the same headline
        if own_terms and len(matched & own_terms) / len(own_terms) >= DUPLICATE_SIMILARITY and exclude is not None:
            continue  # a near-copy of the article itself
        if any(kept and len(matched & kept) / max(1, len(matched | kept)) >= DUPLICATE_SIMILARITY
               for kept in kept_terms):
            continue  # a near-copy of a story already listed
        seen_titles.add(key)
        kept_terms.append(matched)
        shared_terms = [t.replace("_", " ") for t, _ in terms if t in matched][:8]
        out.append(RelatedHit(engine.hit(docnum, score), shared_tags, shared_terms))
        if len(out) >= limit:
            break
    return out
