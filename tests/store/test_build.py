"""The reindex fast path writes what plain Whoosh writes.

The same 200 real articles (spread over the packaged sample) are indexed twice: once with Whoosh's own
machinery (``SegmentWriter`` with its default pool and codec, every text field analysed by its Whoosh
analyzer into Token objects and encoded by its format), and once through ``build_generation`` (worker
processes, ``analysis.postings``, the column pool and the bulk posting writer of ``searchsvc.store.build``).
Every field's terms, document frequencies, term statistics, postings (weights and positions), field
lengths, stored fields and columns must agree, document by document (matched by article id: document
numbers differ across segments).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from searchsvc.articles import Article
from searchsvc.store import build as segments
from searchsvc.store.schema import VietText, build_schema
from searchsvc.store.w3 import FLAT_ONLY, FastW3Codec
from searchsvc.store.writer import IngestReport, build_generation, doc_fields

N_DOCS = 200


@pytest.fixture(scope="module")
def articles(sample_articles: tuple[Article, ...]) -> list[Article]:
    # Every source, NFD text, and the columns (categories, tags, dates, authors) filled for some and not others.
    return [sample_articles[i * len(sample_articles) // N_DOCS] for i in range(N_DOCS)]


def _analyzer_index(self: VietText, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
    """Whoosh's ``Positions.word_values`` over the field's analyzer: one Token object per token.

    Two departures, both forced: the analyzer is called directly because ``formats.tokens`` would
    take a tuple value (title, lead, body) for a list of ready-made tokens, and positions are sorted
    before encoding because pyvi words follow the syllables in the token stream.
    """
    poses: dict[str, list[int]] = defaultdict(list)
    weights: dict[str, float] = defaultdict(float)
    for t in self.analyzer(value, positions=True, boosts=True, mode="index"):
        poses[t.text].append(t.pos)
        weights[t.text] += t.boost
    for text, poslist in poses.items():
        yield (text.encode("utf-8"), len(poslist), weights[text] * self.format.field_boost,
               self.format.encode(sorted(poslist)))


def _build_plain(directory: Path, articles: list[Article]) -> None:
    ix = whoosh_index.create_in(str(directory), build_schema())
    writer = SegmentWriter(ix)
    for article in articles:
        writer.add_document(**doc_fields(article))
    writer.commit()


def _snapshot(directory: Path) -> dict[str, Any]:
    """Everything a search can see, keyed by article id rather than document number."""
    ix = whoosh_index.open_dir(str(directory))
    schema = ix.schema
    with ix.searcher() as searcher:
        reader = searcher.reader()
        ids = {docnum: stored["id"] for docnum, stored in reader.iter_docs()}
        out: dict[str, Any] = {
            "doc_count": reader.doc_count(),
            "stored": {ids[d]: stored for d, stored in reader.iter_docs()},
        }
        for name, field in schema.items():
            if field.indexed:
                terms = {}
                for (fieldname, term), info in reader.iter_from(name, b""):  # bytes: numeric fields too
                    if fieldname != name:
                        break
                    postings = {}
                    matcher = reader.postings(name, term)
                    while matcher.is_active():
                        value = matcher.value()
                        if field.format.supports("positions"):
                            value = field.format.decode_positions(value)
                        postings[ids[matcher.id()]] = (matcher.weight(), value)
                        matcher.next()
                    terms[term] = (info.doc_frequency(), info.weight(), info.max_weight(), info.min_length(),
                                   info.max_length(), postings)
                out[f"terms:{name}"] = terms
                if field.scorable:
                    out[f"lengths:{name}"] = (
                        {ids[d]: reader.doc_field_length(d, name) for d in ids},
                        reader.field_length(name), reader.min_field_length(name), reader.max_field_length(name),
                    )
            if field.column_type:
                # Per segment: Whoosh's MultiColumnReader mis-numbers documents when a segment has no
                # value at all for the column (search.py reads columns per segment for the same reason).
                values = {}
                for leaf, offset in reader.leaf_readers():
                    column = leaf.column_reader(name)
                    values.update({ids[offset + d]: column[d] for d in range(leaf.doc_count_all())})
                out[f"column:{name}"] = values
    return out


@pytest.fixture(scope="module")
def plain(articles: list[Article], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("plain")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(VietText, "index", _analyzer_index)
        _build_plain(directory, articles)
    return _snapshot(directory)


def _assert_same(fast: dict[str, Any], plain: dict[str, Any]) -> None:
    assert fast.keys() == plain.keys()
    assert fast["doc_count"] == plain["doc_count"] == N_DOCS
    for key in plain:
        if key.startswith("terms:"):
            assert sorted(fast[key]) == sorted(plain[key]), key  # the same terms, before their postings
        assert fast[key] == plain[key], key


@pytest.mark.parametrize("procs", [1, 2])
def test_build_generation_writes_what_whoosh_writes(procs: int, articles: list[Article], plain: dict[str, Any],
                                                    tmp_path: Path) -> None:
    report = IngestReport()
    assert build_generation(tmp_path, articles, procs, report, progress=False) == N_DOCS
    ix = whoosh_index.open_dir(str(tmp_path))
    assert len(ix._segments()) == procs  # one segment per worker
    _assert_same(_snapshot(tmp_path), plain)


def test_many_small_segments_hold_the_same_index(articles: list[Article], plain: dict[str, Any],
                                                 tmp_path: Path) -> None:
    whoosh_index.create_in(str(tmp_path), build_schema())
    count, _ = segments.write_index(tmp_path, articles, doc_fields, 2, FastW3Codec(), segment_postings=20_000)
    assert count == N_DOCS
    assert len(whoosh_index.open_dir(str(tmp_path))._segments()) > 2
    _assert_same(_snapshot(tmp_path), plain)


def test_a_failing_document_fails_the_build_and_stops_the_workers(articles: list[Article], tmp_path: Path) -> None:
    def fields(article: Article) -> dict[str, Any]:
        if article.id == articles[-1].id:  # workers get copies of the articles
            raise ValueError("broken article")
        return doc_fields(article)

    whoosh_index.create_in(str(tmp_path), build_schema())
    with pytest.raises(segments.WorkerError, match="broken article"):
        segments.write_index(tmp_path, articles, fields, 2, FastW3Codec())
    assert whoosh_index.open_dir(str(tmp_path)).doc_count() == 0  # nothing was published


def test_text_postings_are_written_once_to_the_flat_file(articles: list[Article], tmp_path: Path) -> None:
    assert build_generation(tmp_path, articles, 1, IngestReport(), progress=False) == N_DOCS
    ix = whoosh_index.open_dir(str(tmp_path))
    with ix.reader() as reader:
        extents = {name: {info.extent()[0] == FLAT_ONLY for (fieldname, _), info in reader.iter_from(name, b"")
                          if fieldname == name}
                   for name, field in ix.schema.items() if field.indexed}
    positional = {name for name, field in ix.schema.items() if field.indexed and field.format.supports("positions")}
    assert positional == {"title", "title_fold", "text", "text_fold"}
    assert all(extents[name] == {True} for name in positional)  # no W3 block: the flat file holds them
    assert all(extents[name] == {False} for name in extents.keys() - positional)


def test_whooshs_own_merge_reads_flat_only_postings(articles: list[Article], plain: dict[str, Any],
                                                   tmp_path: Path) -> None:
    assert build_generation(tmp_path, articles, 2, IngestReport(), progress=False) == N_DOCS
    ix = whoosh_index.open_dir(str(tmp_path))
    ix.optimize()  # Whoosh's SegmentWriter merges both segments, reading their postings through the codec
    assert len(whoosh_index.open_dir(str(tmp_path))._segments()) == 1
    merged = _snapshot(tmp_path)
    for key, value in plain.items():
        if key.startswith("lengths:"):
            # Whoosh's merge sums the byte-rounded document lengths into the field's total: compare those.
            assert merged[key][0] == value[0], key
        else:
            assert merged[key] == value, key
