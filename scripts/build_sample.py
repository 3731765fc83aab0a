"""Build searchsvc/sample/articles.jsonl.gz and its README from ../shared/data.

Deterministic: records are picked by position (strides over each file or group), never at
random, and the gzip header carries no timestamp, so re-running gives the same bytes.

    python scripts/build_sample.py [--data ../shared/data] [--out searchsvc/sample]
"""

from __future__ import annotations

import argparse
import gzip
import json
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from searchsvc.articles import Article, article_from_mapping, article_to_mapping
from searchsvc.ingest.scraped import read_page

ROOT = Path(__file__).resolve().parents[1]
MAX_CHARS = 1_000_000

SITES = {  # file -> the site name used as `source`
    "vnexpress_bongda.jsonl.gz": "VnExpress",
    "dantri_unc.jsonl.gz": "Dân Trí",
    "baomoi_2017.jsonl.gz": "Báo Mới",
    "vietnews_test.jsonl.gz": "VietNews",
}
VNEXPRESS_PER_YEAR = 8
DANTRI_PER_CATEGORY = 10
BAOMOI_COUNT = 80
VIETNEWS_COUNT = 70
VIETNEWS_NFD = 10  # decomposed tone marks on purpose: the sample should exercise normalisation


def records(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rb") as stream:
        for raw in stream:
            yield json.loads(raw)


def stride(items: list[Any], count: int) -> list[Any]:
    """`count` items spread evenly over `items` (all of them if there are fewer)."""
    if len(items) <= count:
        return items
    return [items[i * len(items) // count] for i in range(count)]


def is_nfc(record: dict[str, Any]) -> bool:
    return all(unicodedata.is_normalized("NFC", record.get(f) or "") for f in ("title", "lead", "body"))


def vnexpress(path: Path) -> list[dict[str, Any]]:
    """A stride per year (2003–2025), plus the non-NFC docs; breadcrumb levels below the section → tags."""
    by_year: dict[str, list[dict[str, Any]]] = defaultdict(list)
    odd: list[dict[str, Any]] = []
    for record in records(path):
        by_year[record["published"][:4]].append(record)
        if not is_nfc(record):
            odd.append(record)
    picked = [r for year in sorted(by_year) for r in stride(sorted(by_year[year], key=_key), VNEXPRESS_PER_YEAR)]
    picked += [r for r in odd if r not in picked]
    for record in picked:
        crumbs = record.get("breadcrumb") or []
        record["tags"] = crumbs[1:] if crumbs and crumbs[0] == record.get("category") else crumbs
    return picked


def dantri(path: Path) -> list[dict[str, Any]]:
    """Only docs with a headline (224 of 2,653): a stride per category. No tags: the site gives none."""
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records(path):
        if record.get("title"):
            by_category[record["category"]].append(record)
    return [r for c in sorted(by_category) for r in stride(sorted(by_category[c], key=_key), DANTRI_PER_CATEGORY)]


def baomoi(path: Path) -> list[dict[str, Any]]:
    return stride(list(records(path)), BAOMOI_COUNT)


def vietnews(path: Path) -> list[dict[str, Any]]:
    everything = list(records(path))
    picked = stride(everything, VIETNEWS_COUNT)
    decomposed = [r for r in everything if not is_nfc(r) and r not in picked]
    return picked + stride(decomposed, VIETNEWS_NFD)


def _key(record: dict[str, Any]) -> tuple[str, str]:
    return (record.get("published") or "", record["id"])


def build(data: Path) -> list[Article]:
    seed = read_page(data / "seed" / "000_fcc6f392bfe5f811.txt", MAX_CHARS)
    if not isinstance(seed, Article):
        raise SystemExit(f"seed page rejected: {seed.reason}")
    articles = [seed]
    pickers = {"vnexpress_bongda.jsonl.gz": vnexpress, "dantri_unc.jsonl.gz": dantri}
    pickers |= {"baomoi_2017.jsonl.gz": baomoi, "vietnews_test.jsonl.gz": vietnews}
    for name, pick in pickers.items():
        for record in pick(data / "news" / name):
            record["source"] = SITES[name]
            articles.append(article_from_mapping(record, MAX_CHARS))
    return articles


def write(articles: list[Article], out: Path) -> None:
    lines = "".join(json.dumps(article_to_mapping(a), ensure_ascii=False) + "\n" for a in articles)
    with (
        open(out / "articles.jsonl.gz", "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
    ):
        gz.write(lines.encode("utf-8"))
    (out / "README.md").write_text(readme(articles, (out / "articles.jsonl.gz").stat().st_size), encoding="utf-8")


def readme(articles: list[Article], size: int) -> str:
    counts = Counter(a.source for a in articles)
    rows = "\n".join(f"| {source} | {n} |" for source, n in counts.items())
    years = sorted({a.published.year for a in articles if a.published})
    return f"""# Sample corpus

`articles.jsonl.gz`: {len(articles)} Vietnamese news articles ({size / 1e6:.2f} MB compressed), one JSON
object a line in the Article shape (`id, title, lead, body, category, tags, author, published, url,
source`; `published` is ISO 8601 with its zone, or null). Built by `scripts/build_sample.py` from
`../shared/data` (deterministic: re-running gives the same bytes). Dates span {years[0]}–{years[-1]}.

| source | articles |
| --- | --- |
{rows}

## Attribution

The text belongs to its publishers: *Lao Động & Xã Hội* (the seed page, source mark `LĐXH`),
VnExpress (vnexpress.net), Dân Trí (dantri.com.vn), Báo Mới (baomoi.com, an aggregator) and the
VietNews summarisation corpus (articles from several Vietnamese outlets). It is shipped as a small
attributed sample for trying the service; every article keeps its `url` where the source gave one
(VietNews and the seed page have none) and `source` names the site.

## How the fields were filled

- **Seed page**: read with the scraped-page reader (`searchsvc.ingest.scraped`), exactly as `ingest` would.
- **VnExpress** (football and sport, up to {VNEXPRESS_PER_YEAR} a year, plus its non-NFC docs):
  `category` is the section (first breadcrumb level); the breadcrumb levels below the section
  become `tags` (e.g. `Bóng đá`, `Trong nước`, `V-League`, `Tin tức`).
- **Dân Trí** ({DANTRI_PER_CATEGORY} per section, only docs that have a headline): `category` is the
  section; no tags (the site data has none). `published` is a date, read as midnight Vietnam time.
- **Báo Mới** and **VietNews**: no category, tags, date or author in the data. {VIETNEWS_NFD} VietNews
  docs with decomposed (NFD) tone marks are included on purpose; the text is kept as written.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "searchsvc" / "sample")
    args = parser.parse_args()
    articles = build(args.data)
    write(articles, args.out)
    print(f"{len(articles)} articles -> {args.out / 'articles.jsonl.gz'}")


if __name__ == "__main__":
    main()
