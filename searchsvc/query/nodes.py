"""The plan's node types: the only queries the evaluator runs, so an unsupported one cannot exist.

A plan is a tree of these frozen values (comparable, hashable). Every node has a ``boost`` that
multiplies the scores beneath it. Fields and terms are the index's own (``text``, ``text_fold``,
``title``, ``tag_key``, …), already analysed: the planner analysed the query text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """Documents holding ``text`` in ``field``, scored by BM25."""

    field: str
    text: str
    boost: float = 1.0


@dataclass(frozen=True)
class Phrase:
    """Documents holding ``words`` at consecutive positions of ``field``, scored as their terms."""

    field: str
    words: tuple[str, ...]
    boost: float = 1.0


@dataclass(frozen=True)
class And:
    """Documents every part matches; the parts' scores add up."""

    parts: tuple[Node, ...]
    boost: float = 1.0


@dataclass(frozen=True)
class Or:
    """Documents any part matches; the matching parts' scores add up."""

    parts: tuple[Node, ...]
    boost: float = 1.0


@dataclass(frozen=True)
class AndMaybe:
    """Documents ``required`` matches; ``optional`` adds its score where it matches too."""

    required: Node
    optional: Node
    boost: float = 1.0


@dataclass(frozen=True)
class AndNot:
    """Documents ``positive`` matches and ``negative`` does not; scored as ``positive``."""

    positive: Node
    negative: Node
    boost: float = 1.0


@dataclass(frozen=True)
class Filter:
    """Documents ``child`` matches, adding no score (tags, categories, dates narrow, they do not rank)."""

    child: Node
    boost: float = 1.0


@dataclass(frozen=True)
class Every:
    """Every live document, score 0."""

    boost: float = 1.0


@dataclass(frozen=True)
class DateRange:
    """Documents published from ``start`` to ``end`` (epoch seconds, inclusive; None: open); undated ones never."""

    start: int | None
    end: int | None
    boost: float = 1.0


Node = Term | Phrase | And | Or | AndMaybe | AndNot | Filter | Every | DateRange


def all_of(parts: list[Node]) -> Node:
    """``And`` of the parts, or the part itself when there is one."""
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def any_of(parts: list[Node]) -> Node:
    """``Or`` of the parts, or the part itself when there is one."""
    return parts[0] if len(parts) == 1 else Or(tuple(parts))
