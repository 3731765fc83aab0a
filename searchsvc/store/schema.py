"""The Whoosh schema and its version: what is indexed, what is stored, and how.

Text fields come in pairs: the exact form (``title``) and the folded form (``title_fold``), so that
search can prefer what the user actually typed. Title, lead and body are separate so ranking can
weigh them. Tags, category and author are folded keys: matchable regardless of case and diacritics.
"""

from __future__ import annotations

from typing import Any

from whoosh import fields

from searchsvc.analysis import postings
from searchsvc.store.analyzers import exact_analyzer, fold_analyzer
from searchsvc.store.w3 import CompactPositions

# Bump when the schema or the analysis changes what lands in the index: old indexes must be rebuilt.
SCHEMA_VERSION = 2
# Bump when what serving reads beside Whoosh's files changes: 1 is a flat postings file for every segment
# (``flat.py``), ``bigrams.npy`` and ``vocabulary.pickle``, all written by the writer. An index without
# the version (written before it) or with another one is refused: run a reindex. 2: flat files carry
# per-block maxima for pruning; 3: and each term's largest BM25 frequency part per block; 4: a reindex writes
# the text fields' posting lists to the flat file only (Whoosh reads them there through ``w3.FastW3Codec``).
FORMAT_VERSION = 4

# The article's text is one field, "text", made of three parts whose occurrences weigh differently
# (BM25F): a title match counts PART_WEIGHTS[0] times a body match. One field instead of three keeps
# queries to a few terms per word and the index a third smaller. "title" is also indexed alone for
# the ``title:`` prefix and for suggestions.
TEXT_PARTS = ("title", "lead", "body")
PART_WEIGHTS = (3.0, 1.5, 1.0)


class VietText(fields.FieldType):  # type: ignore[misc]
    """A positional text field whose indexing skips Whoosh's per-token objects (the hot path)."""

    def __init__(self, folded: bool, stored: bool = False, weights: tuple[float, ...] = (1.0,)) -> None:
        super().__init__(
            CompactPositions(),
            fold_analyzer(weights) if folded else exact_analyzer(weights),
            scorable=True,
            stored=stored,
        )
        self.folded = folded
        self.weights = weights

    def index(self, value: str | tuple[str, ...], **kwargs: Any) -> Any:
        encode = self.format.encode
        positions, weights = postings(value, self.folded, self.weights)
        for term, poslist in positions.items():
            yield term.encode("utf-8"), len(poslist), weights[term], encode(poslist)


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
        title=VietText(folded=False, stored=True),
        title_fold=VietText(folded=True),
        lead=fields.STORED(),
        body=fields.STORED(),
        text=VietText(folded=False, weights=PART_WEIGHTS),
        text_fold=VietText(folded=True, weights=PART_WEIGHTS),
    )
    return schema
