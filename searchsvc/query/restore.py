"""Accent restoration: which accented forms a reader meant by syllables typed without them.

A syllable typed without accents may be any accented form the index has for it; which one is meant is
the posterior of the index's bigram model (``model.bigrams``) given the whole typed run. Telex/VNI
leftovers (``tre3``) are decoded first when the raw token is not in the index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from searchsvc.analysis import WORD_JOINER, Token, fold_text, syllables
from searchsvc.analysis.keyboard import decode_keys
from searchsvc.model.vocabulary import Vocabulary

FORMS = 16  # accented forms of an unaccented syllable the model considers
MAX_CANDIDATES = 2  # accented forms per unaccented syllable that get an exact-match weight
MIN_SHARE = 0.05  # restored forms less likely than this are left to the folded match
WORD_FORMS = 4  # readings of a folded word (likeliest first) that earn the word bonus


@dataclass
class Syllable:
    typed: str  # as analysed from the query (exact form of what was typed)
    folded: str
    accented: bool  # the user typed diacritics on it
    start: int = 0  # offsets in the query text: syllables one character apart are adjacent
    end: int = 0
    candidates: list[tuple[str, float]] = field(default_factory=list)  # exact forms and their weights
    decoded: bool = False  # typed with Telex/VNI keys (``tre3``), read as the syllable they make
    posterior: dict[str, float] = field(default_factory=dict)  # every form the model weighed, unaccented only



def query_syllables(text: str, vocab: Vocabulary, decode: bool = True) -> list[Syllable]:
    """Query syllables, with Telex/VNI leftovers decoded (unless not ``decode``) when the raw token is not
    in the index."""
    return [typed_syllable(tok, vocab, decode, text[tok.start:tok.end]) for tok in syllables(text)]


# A lowercase token the index holds is still a Telex leftover when what it decodes to is this many times
# commoner: news text holds "khoong", "cos", "tuwf" (someone's typo, an English word) in a few documents, and
# "không", "có", "từ" in most. Headline recall, Telex-typed: MRR@10 0.633 → 0.742 (docs/relevance.md).
# Capitalised tokens are names (Max, Hari), not "mã", "hải": only unknown ones are decoded.
DECODE_RATIO = 3


def typed_syllable(tok: Token, vocab: Vocabulary, decode: bool = True, raw: str = "") -> Syllable:
    """A query token as a syllable: decoded from Telex/VNI keys when it is not in the index, or, typed in
    lowercase (``raw``, as typed), when its decoding is DECODE_RATIO times commoner than it."""
    if decode:
        known = tok.folded in vocab.fold_df or tok.text in vocab.exact_df
        lowercase = bool(raw) and not any(c.isupper() for c in raw) and tok.text == tok.folded
        if not known or lowercase:
            limit = DECODE_RATIO * vocab.fold_df.get(tok.folded, 0) if known else 0
            for cand in decode_keys(tok.text):
                if vocab.exact_df.get(cand, 0) > limit:
                    return Syllable(cand, fold_text(cand), True, tok.start, tok.end, decoded=True)
    return Syllable(tok.text, tok.folded, tok.text != tok.folded, tok.start, tok.end)


def restore(run: list[Syllable], vocab: Vocabulary) -> list[tuple[int, int, list[str]]]:
    """Fill each syllable's candidates in place; return the pyvi words the run may form, as (start, end, words).

    Each unaccented syllable may be any accented form the index has for it; which one the user meant
    is the posterior of a bigram language model of the index (``searchsvc.model.bigrams``) given the whole
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
        s.posterior = dict(zip(fs, p.tolist()))
        s.candidates = _candidates(s.posterior, vocab)
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


def _candidates(shares: dict[str, float], vocab: Vocabulary) -> list[tuple[str, float]]:
    ranked = sorted(shares.items(), key=lambda fp: -fp[1])[:MAX_CANDIDATES]
    return [(f, share) for f, share in ranked if share >= MIN_SHARE and f in vocab.exact_df]


# How much one document's spelling counts against the bigram model (``revise``): a title holding the
# whole folded run ``dau giai phong`` as ``đâu giải phóng`` outweighs a model that preferred ``đầu`` 0.6:0.4.
EVIDENCE_WEIGHT = 10.0
EVIDENCE_FLOOR = 0.01  # a form the documents hold that the model gave (almost) nothing


def revise(s: Syllable, votes: dict[str, float], vocab: Vocabulary) -> None:
    """Re-read an unaccented syllable in the light of how the best-matching documents spell it where they
    hold it beside the query's other syllables (``query.evidence``): the model's share of each form times
    one plus its votes, so evidence moves an unsure reading and hardly a sure one."""
    if s.accented or not votes:
        return
    shares = {f: max(p, EVIDENCE_FLOOR if f in votes else 0.0) * (1 + EVIDENCE_WEIGHT * votes.get(f, 0.0))
              for f, p in {**dict.fromkeys(votes, 0.0), **s.posterior}.items()}
    total = sum(shares.values())
    if total > 0:
        s.posterior = {f: v / total for f, v in shares.items()}
        s.candidates = _candidates(s.posterior, vocab)


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
    assert model is not None, "store.snapshot attaches the generation's bigram table"
    stats = [model.unigrams(fs) for fs in forms]
    uni = [counts + 0.5 for counts, _ in stats]
    prior = [u / model.total for u in uni]
    trans: list[np.ndarray] = []
    for i in range(1, len(run)):
        if run[i].start - run[i - 1].end not in (0, 1):  # 0: the parts of a joined token (``query.joined``)
            trans.append(np.tile(prior[i], (len(forms[i - 1]), 1)))
            continue
        pairs = model.pair_counts(forms[i - 1], forms[i])
        backoff = stats[i - 1][1][:, None] + 1.0
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
