"""The Whoosh schema and its version: what is indexed, what is stored, and how.

Text fields come in pairs: the exact form (``title``) and the folded form (``title_fold``), so that
search can prefer what the user actually typed. Title, lead and body are separate so ranking can
weigh them. Tags, category and author are folded keys: matchable regardless of case and diacritics.
"""

from __future__ import annotations

from typing import Any

from whoosh import fields

from searchsvc.analysis import postings
from searchsvc.analysis.whoosh_analyzers import exact_analyzer, fold_analyzer
from searchsvc.codec import CompactPositions

# Bump when the schema or the analysis changes what lands in the index: old indexes must be rebuilt.
SCHEMA_VERSION = 1

TEXT_FIELDS = ("title", "lead", "body")


class VietText(fields.FieldType):  # type: ignore[misc]
    """A positional text field whose indexing skips Whoosh's per-token objects (the hot path)."""

    def __init__(self, folded: bool, stored: bool = False) -> None:
        super().__init__(
            CompactPositions(),
            fold_analyzer() if folded else exact_analyzer(),
            scorable=True,
            stored=stored,
        )
        self.folded = folded

    def index(self, value: str, **kwargs: Any) -> Any:
        encode = self.format.encode
        for term, poslist in postings(value, self.folded).items():
            yield term.encode("utf-8"), len(poslist), float(len(poslist)), encode(poslist)


def build_schema() -> fields.Schema:
    schema = fields.Schema(
        id=fields.ID(stored=True, unique=True),
        category=fields.STORED(),
        category_key=fields.ID(sortable=True),
        tags=fields.STORED(),
        tag_key=fields.KEYWORD(commas=True, scorable=False),
        author=fields.STORED(),
        author_key=fields.ID(),
        published=fields.STORED(),  # ISO 8601 with its zone, for display
        published_ts=fields.NUMERIC(int, bits=64, sortable=True, signed=True),  # seconds since epoch
        url=fields.STORED(),
        source=fields.STORED(),
    )
    for name in TEXT_FIELDS:
        schema.add(name, VietText(folded=False, stored=True))
        schema.add(name + "_fold", VietText(folded=True))
    return schema
