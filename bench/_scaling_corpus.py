"""The corpora of bench/scaling.py: real articles first, then synthetic ones recombining real text.

**Corpora.** A size m× holds m·B articles (B = the 35,439 valid baomoi articles; ``--quick``: the first
2,000), written once as JSONL.gz shards under bench/out/scaling/ and keyed by B, seed and scheme
version; size m× is shards 0..m-1, so every size holds the smaller ones:

* shard 0: baomoi (first B valid records), with the title-derived tags of bench/_corpus.py;
* shard 1: the other real corpora (VietNews, Dân Trí, VnExpress: 27,291 valid articles; Dân Trí's
  headline-less records get their first sentence, bench/_news.py), taken round-robin, at most B, then
  synthetic articles up to B; tags by the same rule from their titles;
* shards 2..m-1: B synthetic articles each.

**Synthetic articles** recombine real text (seeded: ``random.Random(f"{seed}:{shard}")``). The pool is
the real articles of shards 0-1, grouped by *topic*: an article's rarest tag, else its category, else
its source, so that text drawn together shares vocabulary. One synthetic article:
1. a real article S is drawn from the pool; its topic is the group, its body length the target;
2. its title (and the tags that title gets) is the title of a member of the group drawn at random, its
   lead another member's lead, its category S's;
3. its body is passages drawn one at a time, each from a random member of the group, until it is as
   long as S's body: a passage is a paragraph of an article with at least 3, else a run of 3
   consecutive sentences (baomoi and VnExpress bodies are one paragraph);
4. id ``synth-<shard>-<n>``, source ``synthetic``, published uniform over 2008-2025 (+07:00).
What this cannot do: coin new words. Past the real 63k the vocabulary stops growing and every posting
list grows linearly with size; an archive's real growth adds rarer words too. Posting lists of common
words, which dominate query cost, grow alike in both.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import zip_longest
from pathlib import Path
from typing import Any

import _corpus as corpus
import _news as news
import click

SCHEME_VERSION = 1  # bump when the synthesis changes: cached shards are then written again
DIR = corpus.OUT / "scaling"
PASSAGE_SENTENCES = 3
EARLIEST = datetime(2008, 1, 1, tzinfo=timezone(timedelta(hours=7)))
SPAN_S = int((datetime(2026, 1, 1, tzinfo=EARLIEST.tzinfo) - EARLIEST).total_seconds())
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True)
class Member:
    """A real article as the synthesis draws from it."""

    title: str
    lead: str
    tags: tuple[str, ...]
    category: str | None
    body_chars: int
    passages: tuple[str, ...]


def _passages(body: str) -> tuple[str, ...]:
    paragraphs = [p.strip() for p in body.split("\n") if p.strip()]
    if len(paragraphs) >= PASSAGE_SENTENCES:
        return tuple(paragraphs)
    sentences = [s for p in paragraphs for s in _SENTENCE_END.split(p) if s]
    return tuple(" ".join(sentences[i:i + PASSAGE_SENTENCES]) for i in range(0, len(sentences), PASSAGE_SENTENCES))


def _topic(record: dict[str, Any]) -> str:
    tags = record.get("tags") or []
    return f"tag:{tags[0]}" if tags else f"category:{record.get('category') or record.get('source') or 'none'}"


def _real(base: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shard 0 (baomoi) and the real part of shard 1 (the other corpora, round-robin, at most ``base``)."""
    from searchsvc.articles import article_from_mapping

    records = corpus.read_records()
    tags, _ = corpus.derive_tags(records)
    baomoi = []
    for record, article_tags in zip(records, tags):
        record = {k: v for k, v in record.items() if k in news.ARTICLE_FIELDS}
        record["tags"] = list(article_tags)
        try:
            article_from_mapping(record, max_chars=10**9)
        except ValueError:
            continue  # the record `searchsvc reindex` rejects (no lead, no body)
        baomoi.append(record)
    others = [list(news.article_records(news.NEWS / name)) for name in news.OTHER_CORPORA]
    mixed = [r for row in zip_longest(*others) for r in row if r is not None][:base]
    tagger = corpus.TitleTagger("scaling_other")
    for record in mixed:
        record["tags"] = list(tagger(str(record["title"])))
    tagger.save()
    return baomoi[:base], mixed


def _pool(records: Iterable[dict[str, Any]]) -> tuple[list[Member], dict[str, list[int]]]:
    pool: list[Member] = []
    groups: dict[str, list[int]] = {}
    for r in records:
        passages = _passages(str(r.get("body") or ""))
        if not passages:
            continue
        groups.setdefault(_topic(r), []).append(len(pool))
        pool.append(Member(str(r["title"]), str(r.get("lead") or ""), tuple(r.get("tags") or ()),
                           r.get("category"), len(str(r.get("body") or "")), passages))
    return pool, groups


def _draw(rng: random.Random, pool: Sequence[Member], members: Sequence[int]) -> Member:
    return pool[members[rng.randrange(len(members))]]


def synthesise(pool: Sequence[Member], groups: dict[str, list[int]], shard: int, count: int,
               seed: int) -> list[dict[str, Any]]:
    """``count`` synthetic articles for ``shard``, as the module docstring says."""
    rng = random.Random(f"{seed}:{shard}")
    topics = {i: t for t, members in groups.items() for i in members}
    out = []
    for n in range(count):
        s = rng.randrange(len(pool))
        members = groups[topics[s]]
        headline, lead = _draw(rng, pool, members), _draw(rng, pool, members).lead
        passages: list[str] = []
        length = 0
        while length < pool[s].body_chars:
            passage = rng.choice(_draw(rng, pool, members).passages)
            passages.append(passage)
            length += len(passage) + 1
        published = EARLIEST + timedelta(seconds=rng.randrange(SPAN_S))
        out.append({"id": f"synth-{shard}-{n}", "title": headline.title, "lead": lead, "body": "\n".join(passages),
                    "category": pool[s].category, "tags": list(headline.tags), "published": published.isoformat(),
                    "source": "synthetic"})
    return out


def _read_shard(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        return [json.loads(line) for line in f.read().split("\n") if line.strip()]


def _write_shard(path: Path, records: Sequence[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", newline="\n", compresslevel=3) as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)  # a shard on disk is a complete one


def shards(base: int, seed: int, count: int) -> list[Path]:
    """Shards 0..count-1, written where missing."""
    folder = DIR / f"corpus-b{base}-s{seed}-v{SCHEME_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"shard{k}.jsonl.gz" for k in range(count)]
    if all(p.exists() for p in paths):
        return paths
    if paths[0].exists() and (count < 2 or paths[1].exists()):
        real = [r for p in paths[:2] for r in _read_shard(p) if r.get("source") != "synthetic"]
    else:
        first, second = _real(base)
        real = first + second
        if not paths[0].exists():
            _write_shard(paths[0], first)
    pool, groups = _pool(real)
    for k, path in enumerate(paths[1:], 1):
        if not path.exists():
            extra = real[base:] if k == 1 else []
            _write_shard(path, extra + synthesise(pool, groups, k, base - len(extra), seed))
            click.echo(f"  wrote {path.name} ({path.stat().st_size / 2**20:.0f} MiB)", err=True)
    return paths


def shard_articles(paths: Sequence[Path]) -> int:
    return sum(sum(1 for _ in gzip.open(p, "rt", encoding="utf-8")) for p in paths)
