"""What the user typed → a structured query. Lenient: anything a person can type parses.

Syntax: plain words; ``"phrases"``; ``-exclusion`` (of a word or phrase); ``OR`` between two terms;
field prefixes ``tag:``, ``category:``, ``author:`` (filters) and ``title:`` (match in titles only).
Unbalanced quotes run to the end of the text; stray operators are dropped; unknown prefixes are text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FILTER_FIELDS = ("tag", "category", "author")
TEXT_PREFIXES = ("title",)
_TOKEN = re.compile(r'(?P<neg>-)?(?:(?P<prefix>[A-Za-z]+):)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))')


@dataclass(frozen=True)
class Clause:
    text: str
    phrase: bool = False
    title_only: bool = False


@dataclass
class ParsedQuery:
    # Groups are ANDed; the clauses within a group are alternatives (OR).
    groups: list[list[Clause]] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=lambda: {f: [] for f in FILTER_FIELDS})

    @property
    def terms(self) -> int:
        return sum(len(g) for g in self.groups) + len(self.excluded) + sum(map(len, self.filters.values()))

    def is_empty(self) -> bool:
        return not self.groups


def parse(text: str) -> ParsedQuery:
    q = ParsedQuery()
    pending_or = False
    for m in _TOKEN.finditer(text):
        negated = bool(m.group("neg"))
        prefix = (m.group("prefix") or "").lower()
        phrase = m.group("phrase")
        raw = phrase if phrase is not None else m.group("word") or ""
        if phrase is None and m.group("prefix") and prefix not in FILTER_FIELDS + TEXT_PREFIXES:
            raw = m.group("prefix") + " " + raw  # "foo:bar" is just text
            prefix = ""
        raw = raw.strip()
        if not raw.strip("-'\u2019"):
            continue  # a lone operator or empty quotes
        if phrase is None and raw == "OR" and not negated and not prefix:
            pending_or = bool(q.groups)
            continue
        if prefix in FILTER_FIELDS:
            if not negated:
                q.filters[prefix].append(raw)
            pending_or = False
            continue
        clause = Clause(raw, phrase=phrase is not None, title_only=prefix == "title")
        if negated:
            q.excluded.append(clause)
        elif pending_or:
            q.groups[-1].append(clause)
        else:
            q.groups.append([clause])
        pending_or = False
    return q
