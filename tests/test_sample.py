import runpy
import unicodedata
from collections import Counter
from pathlib import Path

from searchsvc.articles import Article
from searchsvc.ingest import read_sources
from searchsvc.ingest.scraped import read_page
from searchsvc.sample import SAMPLE_PATH

ROOT = Path(__file__).parents[1]
SEED = ROOT / "tests" / "fixtures" / "seed" / "000_fcc6f392bfe5f811.txt"  # a copy of ../shared/data/seed/


def load() -> list[Article]:
    items = list(read_sources([str(SAMPLE_PATH)]))
    articles = [i for i in items if isinstance(i, Article)]
    assert len(articles) == len(items), "the sample must load without rejections"
    return articles


def test_sample_is_small_and_packaged() -> None:
    assert SAMPLE_PATH.is_file() and SAMPLE_PATH.name == "articles.jsonl.gz"
    assert SAMPLE_PATH.stat().st_size < 3_000_000
    assert (SAMPLE_PATH.parent / "README.md").is_file()


def test_sample_counts_per_source() -> None:
    counts = Counter(a.source for a in load())
    assert counts == {"LĐXH": 1, "VnExpress": 133, "Dân Trí": 100, "Báo Mới": 80, "VietNews": 80}
    readme = (SAMPLE_PATH.parent / "README.md").read_text(encoding="utf-8")
    for source, n in counts.items():
        assert f"| {source} | {n} |" in readme


def test_seed_is_first_and_read_like_ingest_reads_it() -> None:
    assert load()[0] == read_page(SEED, 1_000_000)


def test_sample_articles_are_attributed_and_shaped() -> None:
    articles = load()
    assert len({a.id for a in articles}) == len(articles)
    for article in articles:
        assert article.title and (article.lead or article.body)
        assert article.published is None or article.published.utcoffset() is not None
        if article.source in {"VnExpress", "Dân Trí", "Báo Mới"}:
            assert article.url.startswith("http")
        if article.source == "VnExpress":
            assert article.category and article.category not in article.tags
        if article.source == "Dân Trí":
            assert article.category and article.tags == () and article.published is not None
    years = {a.published.year for a in articles if a.source == "VnExpress" and a.published}
    assert min(years) <= 2005 and max(years) >= 2025


def test_sample_keeps_decomposed_text_as_written() -> None:
    decomposed = [a for a in load() if not unicodedata.is_normalized("NFC", a.title + a.lead + a.body)]
    assert len(decomposed) >= 10


def test_shipped_files_are_what_the_build_script_writes(tmp_path: Path) -> None:
    # Rebuilding from ../shared/data (the picks, too) is bench/sample_rebuild.py; here the script's writer, from
    # the shipped articles: the same bytes (no gzip timestamp, a lossless round trip) and the same README.
    script = runpy.run_path(str(ROOT / "scripts" / "build_sample.py"))
    script["write"](load(), tmp_path)
    assert (tmp_path / "articles.jsonl.gz").read_bytes() == SAMPLE_PATH.read_bytes()
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == (SAMPLE_PATH.parent / "README.md").read_text(
        encoding="utf-8"
    )
