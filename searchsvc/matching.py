"""A parsed query → Whoosh queries, diacritic-aware, with accents restored from the index vocabulary.

Each query syllable matches its folded form in every text field (recall: a syllable typed without
accents is no evidence against any accented form) and, with extra weight, the exact forms the user
meant: the one typed, or when typed without accents the forms the index's bigram model makes likely
given the whole query (``tre em`` → ``trẻ`` and ``em``, plus the word ``trẻ_em``). Exact matches
therefore outrank lookalikes (``công`` over ``cộng``) without hiding them. pyvi words in the vocabulary
add a bonus for compound matches, whichever way pyvi split the query or the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from whoosh import query as wq

from searchsvc.analysis import WORD_JOINER, Token, fold_text, syllables
from searchsvc.analysis.keyboard import decode_keys
from searchsvc.query import Clause, ParsedQuery
from searchsvc.snippets import Marker
from searchsvc.vocabulary import Vocabulary

FIELD_WEIGHTS = {"text": 1.0, "title": 1.0}  # title/lead/body weights live in the index (schema.PART_WEIGHTS)
EXACT_WEIGHT = 1.0  # on top of the folded match: an exact match counts double
WORD_WEIGHT = 0.8  # bonus for matching the pyvi word a run of syllables forms
FORMS = 16  # accented forms of an unaccented syllable the model considers
MAX_CANDIDATES = 2  # accented forms per unaccented syllable that get an exact-match weight
MIN_SHARE = 0.05  # restored forms less likely than this are left to the folded match
WORD_FORMS = 4  # readings of a folded word (likeliest first) that earn the word bonus
# Function words that should not make a document fail the "every word" test (they still score).
STOPWORDS = frozenset(
    "là của và có được các những một trong cho với đã đang sẽ bị thì mà này đó nào gì ai đâu bao nhiêu "
    "khi nơi như về từ tại theo để do vì nên nhưng hay hoặc cũng rất lại ra vào lên thế sao không chưa".split()
)


@dataclass
class Syllable:
    typed: str  # as analysed from the query (exact form of what was typed)
    folded: str
    accented: bool  # the user typed diacritics on it
    start: int = 0  # offsets in the query text: syllables one character apart are adjacent
    end: int = 0
    candidates: list[tuple[str, float]] = field(default_factory=list)  # exact forms and their weights


@dataclass
class Plan:
    strict: wq.Query | None  # every (non-stop) word
    loose: wq.Query | None  # any word
    marker: Marker
    corrected: str | None  # a spelling suggestion for the whole query text, when one helps
    excluded: wq.Query | None
    filters: list[wq.Query]
    question: bool = False  # ranked over all words; the every-word tier does not apply


def _syllables(text: str, vocab: Vocabulary) -> list[Syllable]:
    """Query syllables, with Telex/VNI leftovers decoded when the raw token is not in the index."""
    return [_syllable(tok, vocab) for tok in syllables(text)]


def _syllable(tok: Token, vocab: Vocabulary) -> Syllable:
    if tok.folded not in vocab.fold_df and tok.text not in vocab.exact_df:
        for cand in decode_keys(tok.text):
            if cand in vocab.exact_df:
                return Syllable(cand, fold_text(cand), True, tok.start, tok.end)
    return Syllable(tok.text, tok.folded, tok.text != tok.folded, tok.start, tok.end)


def restore(run: list[Syllable], vocab: Vocabulary) -> list[tuple[int, int, list[str]]]:
    """Fill each syllable's candidates in place; return the pyvi words the run may form, as (start, end, words).

    Each unaccented syllable may be any accented form the index has for it; which one the user meant
    is the posterior of a bigram language model of the index (``searchsvc.bigrams``) given the whole
    typed run: forward-backward over the forms of every syllable, so ``bao nhieu`` restores ``nhiêu``
    and ``nhieu nguoi`` restores ``nhiều``: by the neighbours, not by the syllable's own frequency alone.
    Syllables typed with accents are fixed and inform their neighbours.

    A run of syllables forms a pyvi word of the vocabulary in every reading consistent with the accents
    typed; each reading earns the full word bonus (the likeliest WORD_FORMS of them): a document that
    holds the syllables as one word, in whatever accents, is evidence the way a folded syllable is.
    Weighting readings by the model's posterior instead cost 0.012 MRR without diacritics (mix set).
    """
    forms = [[s.typed] if s.accented else [f for f, _ in vocab.syllables.get(s.folded, [])[:FORMS]] or [s.typed]
             for s in run]
    marginals = _posteriors(run, forms, vocab)
    for s, fs, p in zip(run, forms, marginals):
        if s.accented:
            s.candidates = [(s.typed, 1.0)]
            continue
        ranked = sorted(zip(fs, p.tolist()), key=lambda fp: -fp[1])[:MAX_CANDIDATES]
        s.candidates = [(f, share) for f, share in ranked if share >= MIN_SHARE and f in vocab.exact_df]
    likely = [dict(zip(fs, p.tolist())) for fs, p in zip(forms, marginals)]
    words: list[tuple[int, int, list[str]]] = []
    for size in (2, 3, 4):
        for i in range(len(run) - size + 1):
            span = run[i : i + size]
            key = WORD_JOINER.join(s.folded for s in span)
            found = []
            for word, _ in vocab.words.get(key, []):
                parts = word.split(WORD_JOINER)
                if all(not s.accented or s.typed == p for s, p in zip(span, parts)):
                    found.append((float(np.prod([likely[i + j].get(p, 0.0) for j, p in enumerate(parts)])), word))
            if found:
                found.sort(key=lambda pw: -pw[0])
                words.append((i, i + size, [w for _, w in found[:WORD_FORMS]]))
    return words


def _posteriors(run: list[Syllable], forms: list[list[str]], vocab: Vocabulary) -> list[np.ndarray]:
    """P(form | everything typed) for every syllable's forms, by forward-backward over the bigram model.

    Witten-Bell smoothing: P(b | a) = (count(a b) + F(a) P(b)) / (count(a) + F(a)), F(a) the number of
    distinct syllables seen after ``a``. A syllable followed by anything (``nhiêu`` in ``bao nhiêu ...``)
    lends its unseen pairs more probability than one always followed by the same few, so ``bao nhieu
    giai`` stays ``bao nhiêu giải`` although ``nhiêu giải`` is rare and ``nhiều giải`` common. Between
    syllables that were not adjacent in the query there is only each form's own frequency.
    """
    if not run:
        return []
    model = vocab.bigrams
    assert model is not None, "vocabulary.load_or_build attaches the generation's bigram table"
    uni = [model.counts(fs) + 0.5 for fs in forms]
    prior = [u / model.total for u in uni]
    trans: list[np.ndarray] = []
    for i in range(1, len(run)):
        if run[i].start - run[i - 1].end != 1:
            trans.append(np.tile(prior[i], (len(forms[i - 1]), 1)))
            continue
        pairs = model.pair_counts(forms[i - 1], forms[i])
        backoff = model.distinct_followers(forms[i - 1])[:, None] + 1.0
        trans.append((pairs + backoff * prior[i]) / (uni[i - 1][:, None] + backoff))
    alpha = [prior[0] / prior[0].sum()]
    for t in trans:
        a = alpha[-1] @ t
        alpha.append(a / a.sum())
    beta = [np.ones(len(forms[-1]))]
    for t in reversed(trans):
        b = t @ beta[0]
        beta.insert(0, b / b.sum())
    out = []
    for a, b in zip(alpha, beta):
        p = a * b
        out.append(p / p.sum())
    return out


def _fields(title_only: bool) -> tuple[str, ...]:
    return ("title",) if title_only else ("text",)


def syllable_query(s: Syllable, title_only: bool, strict: bool = False) -> wq.Query:
    """A syllable's folded match (recall) and, weighted, its exact forms.

    ``strict`` (the every-word tier): a syllable typed with diacritics matches its exact form only, so
    ``bóng đá`` does not count ``bỗng … đã`` as holding every word; the folded match still adds to the
    score, so an exact match scores as it does in the any-word tier.
    """
    alts: list[wq.Query] = []
    for f in _fields(title_only):
        w = FIELD_WEIGHTS[f]
        folded = wq.Term(f + "_fold", s.folded, boost=w)
        exact: list[wq.Query] = [wq.Term(f, form, boost=w * EXACT_WEIGHT * p) for form, p in s.candidates]
        if strict and s.accented and exact:
            alts.append(wq.AndMaybe(exact[0] if len(exact) == 1 else wq.Or(exact), folded))
        else:
            alts.extend([folded, *exact])
    return wq.Or(alts)


def phrase_query(run: list[Syllable], title_only: bool, strict: bool = False) -> wq.Query:
    if len(run) == 1:
        return syllable_query(run[0], title_only, strict)
    alts: list[wq.Query] = []
    exact = all(s.accented for s in run)
    for f in _fields(title_only):
        w = FIELD_WEIGHTS[f]
        folded = wq.Phrase(f + "_fold", [s.folded for s in run], boost=w)
        if not exact:
            alts.append(folded)
            continue
        typed = wq.Phrase(f, [s.typed for s in run], boost=w * EXACT_WEIGHT)
        alts.extend([wq.AndMaybe(typed, folded)] if strict else [folded, typed])
    return wq.Or(alts)


def word_bonus(words: list[tuple[int, int, list[str]]], title_only: bool) -> list[wq.Query]:
    return [wq.Term(f, word, boost=FIELD_WEIGHTS[f] * WORD_WEIGHT)
            for _, _, forms in words for word in forms for f in _fields(title_only)]


def _clause_query(clause: Clause, vocab: Vocabulary, bonus: list[wq.Query], marker: tuple[set[str], set[str]],
                  seen: list[Syllable]) -> tuple[wq.Query, wq.Query] | None:
    """The (any-word, every-word) queries for a phrase or one alternative of an OR group: all its
    syllables (in order for a phrase)."""
    run = _syllables(clause.text, vocab)
    if not run:
        return None
    words = restore(run, vocab)
    seen.extend(run)
    for s in run:
        _mark(s, *marker)
    if clause.phrase:
        return phrase_query(run, clause.title_only), phrase_query(run, clause.title_only, strict=True)
    bonus.extend(word_bonus(words, clause.title_only))
    loose, strict = ([syllable_query(s, clause.title_only, st) for s in run] for st in (False, True))
    return (loose[0], strict[0]) if len(run) == 1 else (wq.And(loose), wq.And(strict))


# Words that make a query a question. A question is not a list of keywords: its answer rarely repeats
# every word of it, so questions are ranked over all their words instead of every-word-first.
QUESTION_WORDS = frozenset("ai gì nào đâu mấy".split())
QUESTION_PHRASES = frozenset(
    "bao nhiêu|bao lâu|bao giờ|thế nào|tại sao|vì sao|làm sao|khi nào|lúc nào|năm nào|ở đâu|là gì".split("|")
)
_QUESTION_FOLDED = frozenset({"ai", "gi"} | {fold_text(p) for p in QUESTION_PHRASES})


def is_question(text: str, run: list[Syllable]) -> bool:
    if text.rstrip().endswith("?"):
        return True
    for i, s in enumerate(run):
        pair = run[i : i + 2]
        if s.accented and s.typed in QUESTION_WORDS:
            return True
        if len(pair) == 2 and " ".join(x.typed for x in pair) in QUESTION_PHRASES:
            return True
        if not s.accented and (s.folded in _QUESTION_FOLDED or
                               (len(pair) == 2 and " ".join(x.folded for x in pair) in _QUESTION_FOLDED)):
            return True
    return False


COMMON_SHARE = 0.1
COMMON_MIN_DOCS = 100


def _optional(s: Syllable, vocab: Vocabulary) -> bool:
    """Words that should not make a document fail the "every word" test: function words, and words
    so common in this index that requiring them says little (Lucene's "common terms" idea)."""
    if s.typed in STOPWORDS:
        return True
    # (Never in a small index, where every word is in a large share of the few documents.)
    return vocab.fold_df.get(s.folded, 0) > max(COMMON_SHARE * vocab.doc_count, COMMON_MIN_DOCS)


MARK_SHARE = 0.2  # a restored form this likely is what the user meant: highlight it, not every lookalike


def _mark(s: Syllable, exact: set[str], folded: set[str]) -> None:
    """Record what to highlight for a query syllable: what was typed, or what we restored it to."""
    if s.accented:
        exact.add(s.typed)
        return
    likely = [form for form, share in s.candidates if share >= MARK_SHARE]
    if likely:
        exact.update(likely)
    else:
        folded.add(s.folded)


def plan(parsed: ParsedQuery, vocab: Vocabulary, text: str = "") -> Plan:
    # Consecutive single plain words are restored together, so context spans the whole query.
    groups: list[list[Clause]] = []
    for group in parsed.groups:
        if (len(group) == 1 and not group[0].phrase and groups and len(groups[-1]) == 1
                and not groups[-1][0].phrase and groups[-1][0].title_only == group[0].title_only):
            groups[-1] = [Clause(groups[-1][0].text + " " + group[0].text, title_only=group[0].title_only)]
        else:
            groups.append(list(group))
    required: list[wq.Query] = []  # every one must match for the every-word tier
    optional: list[wq.Query] = []  # scores only
    anyof: list[wq.Query] = []  # at least one must match at all
    marker: tuple[set[str], set[str]] = (set(), set())
    seen: list[Syllable] = []
    for group in groups:
        if len(group) == 1 and not group[0].phrase:
            # A run of plain words: each syllable is its own requirement.
            clause = group[0]
            run = _syllables(clause.text, vocab)
            seen.extend(run)
            optional.extend(word_bonus(restore(run, vocab), clause.title_only))
            for s in run:
                _mark(s, *marker)
                q = syllable_query(s, clause.title_only)
                anyof.append(q)
                if _optional(s, vocab):
                    optional.append(q)
                else:
                    required.append(syllable_query(s, clause.title_only, strict=True))
            continue
        alts = [q for q in (_clause_query(c, vocab, optional, marker, seen) for c in group) if q is not None]
        if alts:
            anyof.append(alts[0][0] if len(alts) == 1 else wq.Or([loose for loose, _ in alts]))
            required.append(alts[0][1] if len(alts) == 1 else wq.Or([strict for _, strict in alts]))
    if not required:
        required = list(anyof)  # only function words: then they are the query
    bonus = [q for q in optional if q not in anyof]
    loose = wq.Or(anyof + bonus) if anyof else None
    strict: wq.Query | None = None
    if required:
        strict = required[0] if len(required) == 1 else wq.And(required)
        extra = [q for q in optional if q not in required]
        if extra:
            strict = wq.AndMaybe(strict, wq.Or(extra))
    question = loose is not None and is_question(text, seen)
    excluded = _excluded(parsed.excluded, vocab)
    filters = [wq.Term("tag_key", fold_text(t)) for t in parsed.filters["tag"]]
    filters += [wq.Term("category_key", fold_text(c)) for c in parsed.filters["category"]]
    filters += [wq.Term("author_key", fold_text(a)) for a in parsed.filters["author"]]
    return Plan(loose if question else strict, loose, Marker(frozenset(marker[0]), frozenset(marker[1])),
                correct(parsed, vocab), excluded, filters, question)


def _excluded(clauses: list[Clause], vocab: Vocabulary) -> wq.Query | None:
    out: list[wq.Query] = []
    for clause in clauses:
        run = _syllables(clause.text, vocab)
        if not run:
            continue
        for s in run:
            s.candidates = [(s.typed, 1.0)] if s.accented else []
        if len(run) == 1:
            s = run[0]
            fields = _fields(clause.title_only)
            out.extend(wq.Term(f, s.typed) if s.accented else wq.Term(f + "_fold", s.folded) for f in fields)
        else:
            out.append(phrase_query(run, clause.title_only))
    return wq.Or(out) if out else None


_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in _ALPHABET]
    inserts = [a + c + b for a, b in splits for c in _ALPHABET]
    return set(deletes + transposes + replaces + inserts)


def correct_syllable(folded: str, vocab: Vocabulary) -> str | None:
    """The most frequent indexed syllable one edit away from an unknown one."""
    if folded in vocab.fold_df or len(folded) < 3 or len(folded) > 20:
        return None
    best = max(((vocab.fold_df[c], c) for c in _edits1(folded) if c in vocab.fold_df), default=None)
    return best[1] if best else None


def correct(parsed: ParsedQuery, vocab: Vocabulary) -> str | None:
    """The query text with unknown syllables replaced by their likeliest spelling (None when all are known)."""
    changed = False
    parts: list[str] = []
    for group in parsed.groups:
        for clause in group:
            words = []
            for tok in syllables(clause.text):
                s = _syllable(tok, vocab)
                fix = None if s.accented and s.typed in vocab.exact_df else correct_syllable(s.folded, vocab)
                if fix is not None:
                    forms = vocab.syllables.get(fix)
                    words.append(forms[0][0] if forms else fix)
                    changed = True
                else:
                    words.append(s.typed)
            text = " ".join(words)
            parts.append(f'"{text}"' if clause.phrase else text)
    return " ".join(parts) if changed else None
