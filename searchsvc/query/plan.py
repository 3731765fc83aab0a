"""A parsed query → a plan of our own nodes (``nodes.py``), diacritic-aware, accents restored (``restore.py``).

Each query syllable matches its folded form in every text field (recall: a syllable typed without
accents is no evidence against any accented form) and, with extra weight, the exact forms the user
meant: the one typed, or when typed without accents the forms the index's bigram model makes likely
given the whole query (``tre em`` → ``trẻ`` and ``em``, plus the word ``trẻ_em``). Exact matches
therefore outrank lookalikes (``công`` over ``cộng``) without hiding them. pyvi words in the vocabulary
add a bonus for compound matches, whichever way pyvi split the query or the document.
"""

from __future__ import annotations

from dataclasses import dataclass

from searchsvc.analysis import fold_text
from searchsvc.model.vocabulary import Vocabulary
from searchsvc.query.evidence import Votes
from searchsvc.query.joined import expand
from searchsvc.query.nodes import And, AndMaybe, Node, Or, Phrase, Term, all_of
from searchsvc.query.parse import Clause, ParsedQuery
from searchsvc.query.restore import Syllable, query_syllables, restore, revise
from searchsvc.query.spelling import correct, in_case_of
from searchsvc.snippets import Marker

EXACT_WEIGHT = 1.0  # on top of the folded match: an exact match counts double
WORD_WEIGHT = 0.8  # bonus for matching the pyvi word a run of syllables forms
# Function words that should not make a document fail the "every word" test (they still score).
STOPWORDS = frozenset(
    "là của và có được các những một trong cho với đã đang sẽ bị thì mà này đó nào gì ai đâu bao nhiêu "
    "khi nơi như về từ tại theo để do vì nên nhưng hay hoặc cũng rất lại ra vào lên thế sao không chưa".split()
)


@dataclass
class Plan:
    strict: Node | None  # every (non-stop) word
    loose: Node | None  # any word
    marker: Marker
    corrected: str | None  # a spelling suggestion for the whole query text, when one helps
    excluded: Node | None
    filters: list[Node]
    question: bool = False  # ranked over all words; the every-word tier does not apply
    interpreted: str | None = None  # the reading searched, when it is not what was typed (``tre em`` → ``trẻ em``)
    runs: list[list[Syllable]] | None = None  # the runs restored together, for ``query.evidence``
    restored: Restored | None = None  # what the model made of each run, so a second plan need not redo it


def _fields(title_only: bool) -> tuple[str, ...]:
    return ("title",) if title_only else ("text",)


def syllable_query(s: Syllable, title_only: bool, strict: bool = False) -> Node:
    """A syllable's folded match (recall) and, weighted, its exact forms.

    ``strict`` (the every-word tier): a syllable typed with diacritics matches its exact form only, so
    ``bóng đá`` does not count ``bỗng … đã`` as holding every word; the folded match still adds to the
    score, so an exact match scores as it does in the any-word tier.
    """
    alts: list[Node] = []
    for f in _fields(title_only):
        folded = Term(f + "_fold", s.folded)
        exact: list[Node] = [Term(f, form, boost=EXACT_WEIGHT * p) for form, p in s.candidates]
        if strict and s.accented and exact:
            alts.append(AndMaybe(exact[0] if len(exact) == 1 else Or(tuple(exact)), folded))
        else:
            alts.extend([folded, *exact])
    return Or(tuple(alts))


def phrase_query(run: list[Syllable], title_only: bool, strict: bool = False) -> Node:
    if len(run) == 1:
        return syllable_query(run[0], title_only, strict)
    alts: list[Node] = []
    exact = all(s.accented for s in run)
    for f in _fields(title_only):
        folded = Phrase(f + "_fold", tuple(s.folded for s in run))
        if not exact:
            alts.append(folded)
            continue
        typed = Phrase(f, tuple(s.typed for s in run), boost=EXACT_WEIGHT)
        alts.extend([AndMaybe(typed, folded)] if strict else [folded, typed])
    return Or(tuple(alts))


def word_bonus(words: list[tuple[int, int, list[str]]], title_only: bool) -> list[Node]:
    return [Term(f, word, boost=WORD_WEIGHT)
            for _, _, forms in words for word in forms for f in _fields(title_only)]


def _clause_query(clause: Clause, vocab: Vocabulary, bonus: list[Node], marker: tuple[set[str], set[str]],
                  seen: list[Syllable], verbatim: bool, readings: _Readings,
                  runs: _Runs) -> tuple[Node, Node] | None:
    """The (any-word, every-word) queries for a phrase or one alternative of an OR group: all its
    syllables (in order for a phrase)."""
    run = query_syllables(clause.text, vocab, decode=not verbatim)
    if not run:
        return None
    words = _restore(run, vocab, verbatim, runs)
    seen.extend(run)
    readings.clause.append(readings.read(clause.text, [(s, []) for s in run], clause.phrase))
    for s in run:
        _mark(s, *marker)
    if clause.phrase:
        return phrase_query(run, clause.title_only), phrase_query(run, clause.title_only, strict=True)
    bonus.extend(word_bonus(words, clause.title_only))
    loose, strict = ([syllable_query(s, clause.title_only, st) for s in run] for st in (False, True))
    return (loose[0], strict[0]) if len(run) == 1 else (And(tuple(loose)), And(tuple(strict)))


# Words that make a query a question. A question is not a list of keywords: its answer rarely repeats
# every word of it, so questions are ranked over all their words instead of every-word-first.
QUESTION_WORDS = frozenset("ai gì nào đâu mấy".split())
QUESTION_PHRASES = frozenset(
    "bao nhiêu|bao lâu|bao giờ|thế nào|tại sao|vì sao|làm sao|khi nào|lúc nào|năm nào|ở đâu|là gì".split("|")
)
_QUESTION_FOLDED = frozenset({"ai", "gi"} | {fold_text(p) for p in QUESTION_PHRASES})


def is_question(text: str, run: list[Syllable]) -> bool:
    """Asked with "?", a question word or phrase, as typed or as restored (``o dau`` reads ``ở đâu``, as
    ``ở đâu`` does: the two forms of one query are ranked alike)."""
    if text.rstrip().endswith("?"):
        return True
    read = [_reading(s) for s in run]
    for i, s in enumerate(run):
        pair = run[i : i + 2]
        if read[i] in QUESTION_WORDS or " ".join(read[i : i + 2]) in QUESTION_PHRASES:
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


# A run as typed → each syllable's posterior and candidates, and the pyvi words it may form.
Restored = dict[tuple[tuple[str, bool, int, int], ...],
                tuple[list[dict[str, float]], list[list[tuple[str, float]]], list[tuple[int, int, list[str]]]]]


class _Runs:
    """The runs restored so far, numbered as ``query.evidence`` numbers them, the votes to apply, and what
    the model made of each run (``restored``, given by an earlier plan of the same text or filled here)."""

    def __init__(self, evidence: Votes | None, restored: Restored | None) -> None:
        self.evidence = evidence or {}
        self.runs: list[list[Syllable]] = []
        self.restored: Restored = {} if restored is None else restored

    def restore(self, run: list[Syllable], vocab: Vocabulary) -> list[tuple[int, int, list[str]]]:
        key = tuple((s.typed, s.accented, s.start, s.end) for s in run)
        known = self.restored.get(key)
        if known is None:
            words = restore(run, vocab)
            self.restored[key] = ([dict(s.posterior) for s in run], [list(s.candidates) for s in run], words)
            return words
        for s, posterior, candidates in zip(run, known[0], known[1]):
            s.posterior, s.candidates = dict(posterior), list(candidates)
        return known[2]


def _restore(run: list[Syllable], vocab: Vocabulary, verbatim: bool,
             runs: _Runs) -> list[tuple[int, int, list[str]]]:
    """``restore.restore``, then revised by the documents' votes; searched as typed (``verbatim``), an
    unaccented syllable keeps only its own exact form and the folded match, and no word bonus reads accents
    into it."""
    words = runs.restore(run, vocab)
    if not verbatim:
        for i, s in enumerate(run):
            revise(s, runs.evidence.get((len(runs.runs), i), {}), vocab)
        runs.runs.append(run)
        return words
    for s in run:
        if not s.accented:
            s.candidates = [(s.typed, 1.0)] if s.typed in vocab.exact_df else []
    return [w for w in words if all(s.accented for s in run[w[0]:w[1]])]


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


def _reading(s: Syllable) -> str:
    """What a syllable was searched as: as typed, decoded from Telex, or its likeliest restored form."""
    if s.accented or not s.candidates:
        return s.typed
    form, share = s.candidates[0]
    return form if share >= MARK_SHARE else s.typed


class _Readings:
    """The query as searched, clause by clause, and whether it differs from what was typed."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.clause: list[str] = []  # the alternatives of the OR group being read
        self.changed = False

    def read(self, text: str, items: list[tuple[Syllable, list[Syllable]]], phrase: bool = False) -> str:
        """One clause as searched (its syllables restored); notes whether that differs from the typed."""
        words = []
        for s, pieces in items:
            raw = text[s.start:s.end]
            shown = " ".join(_reading(p) for p in pieces) if pieces else _reading(s)
            self.changed |= bool(pieces) or s.decoded or (not s.accented and shown != s.typed)
            words.append(in_case_of(shown, raw) if not s.accented or s.decoded or pieces else raw)
        reading = " ".join(words)
        return f'"{reading}"' if phrase else reading

    def text(self) -> str | None:
        return " ".join(p for p in self.parts if p) if self.changed else None


def _joined_query(s: Syllable, pieces: list[Syllable], title_only: bool, strict: bool) -> Node:
    """A joined token as typed, or its syllables (``query.joined``)."""
    whole = syllable_query(s, title_only, strict)
    if not pieces:
        return whole
    return Or((whole, And(tuple(syllable_query(p, title_only, strict) for p in pieces))))


def plan(parsed: ParsedQuery, vocab: Vocabulary, text: str = "", verbatim: bool = False,
         evidence: Votes | None = None, restored: Restored | None = None) -> Plan:
    """The plan of a parsed query; ``verbatim``: as typed, with no accents restored, no Telex decoded and
    no joined words split; ``evidence``: how the best matches of an earlier plan spell its runs (that plan's
    ``restored`` saves restoring them again)."""
    # Consecutive single plain words are restored together, so context spans the whole query.
    groups: list[list[Clause]] = []
    for group in parsed.groups:
        if (len(group) == 1 and not group[0].phrase and groups and len(groups[-1]) == 1
                and not groups[-1][0].phrase and groups[-1][0].title_only == group[0].title_only):
            groups[-1] = [Clause(groups[-1][0].text + " " + group[0].text, title_only=group[0].title_only)]
        else:
            groups.append(list(group))
    required: list[Node] = []  # every one must match for the every-word tier
    optional: list[Node] = []  # scores only
    anyof: list[Node] = []  # at least one must match at all
    marker: tuple[set[str], set[str]] = (set(), set())
    seen: list[Syllable] = []
    readings = _Readings()
    runs = _Runs(evidence, restored)
    for group in groups:
        if len(group) == 1 and not group[0].phrase:
            # A run of plain words: each syllable (or joined token) is its own requirement.
            clause = group[0]
            items: list[tuple[Syllable, list[Syllable]]] = [
                (s, []) for s in query_syllables(clause.text, vocab, decode=not verbatim)]
            if not verbatim:
                items = expand([s for s, _ in items], vocab)
            run = [p for s, pieces in items for p in (pieces or [s])]
            seen.extend(run)
            optional.extend(word_bonus(_restore(run, vocab, verbatim, runs), clause.title_only))
            readings.parts.append(readings.read(clause.text, items))
            for s, pieces in items:
                if pieces:
                    s.candidates = [(s.typed, 1.0)] if s.typed in vocab.exact_df else []
                for part in pieces or [s]:
                    _mark(part, *marker)
                q = _joined_query(s, pieces, clause.title_only, False)
                anyof.append(q)
                if not pieces and _optional(s, vocab):
                    optional.append(q)
                else:
                    required.append(_joined_query(s, pieces, clause.title_only, True))
            continue
        readings.clause = []
        alts = [q for q in (_clause_query(c, vocab, optional, marker, seen, verbatim, readings, runs) for c in group)
                if q is not None]
        readings.parts.append(" OR ".join(readings.clause))
        if alts:
            anyof.append(alts[0][0] if len(alts) == 1 else Or(tuple(loose for loose, _ in alts)))
            required.append(alts[0][1] if len(alts) == 1 else Or(tuple(strict for _, strict in alts)))
    if not required:
        required = list(anyof)  # only function words: then they are the query
    bonus = [q for q in optional if q not in anyof]
    loose = Or(tuple(anyof + bonus)) if anyof else None
    strict: Node | None = None
    if required:
        strict = all_of(required)
        extra = [q for q in optional if q not in required]
        if extra:
            strict = AndMaybe(strict, Or(tuple(extra)))
    question = loose is not None and is_question(text, seen)
    excluded = _excluded(parsed.excluded, vocab)
    filters: list[Node] = [Term("tag_key", fold_text(t)) for t in parsed.filters["tag"]]
    filters += [Term("category_key", fold_text(c)) for c in parsed.filters["category"]]
    filters += [Term("author_key", fold_text(a)) for a in parsed.filters["author"]]
    return Plan(loose if question else strict, loose, Marker(frozenset(marker[0]), frozenset(marker[1])),
                correct(parsed, vocab), excluded, filters, question, readings.text(), runs.runs,
                runs.restored)


def _excluded(clauses: list[Clause], vocab: Vocabulary) -> Node | None:
    out: list[Node] = []
    for clause in clauses:
        run = query_syllables(clause.text, vocab)
        if not run:
            continue
        for s in run:
            s.candidates = [(s.typed, 1.0)] if s.accented else []
        if len(run) == 1:
            s = run[0]
            fields = _fields(clause.title_only)
            out.extend(Term(f, s.typed) if s.accented else Term(f + "_fold", s.folded) for f in fields)
        else:
            out.append(phrase_query(run, clause.title_only))
    return Or(tuple(out)) if out else None


