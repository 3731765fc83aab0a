"""Search answers on the packaged sample are what they were when recorded: a refactor changes no answer.

Three hundred queries (title and lead fragments of sample articles, as written, without diacritics and
Telex-typed; some sorted by date, filtered by a tag or paged) go through the real app; each answer's JSON
(hits with scores and highlights, totals, tiers, facets, did-you-mean; not the time taken) is compared with
``fixtures/answers_sample.json``. A change meant to change answers re-records it, and says so in its commit:
``RECORD_ANSWERS=1 pytest tests/test_answers.py``. ``bench/answers.py`` does the same on all of baomoi.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from searchsvc.articles import Article
from searchsvc.evaluation import no_diacritics, telex
from searchsvc.store.writer import build_index
from searchsvc.web.app import create_app

FIXTURE = Path(__file__).parents[1] / "fixtures" / "answers_sample.json"
QUERIES = 300
_WORD = re.compile(r"\w+")


def queries(articles: tuple[Article, ...], n: int = QUERIES, seed: int = 2026) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out: list[dict[str, str]] = []
    while len(out) < n:
        a = articles[rng.randrange(len(articles))]
        words = _WORD.findall(unicodedata.normalize("NFC", a.title if rng.random() < 0.7 else a.lead or a.title))
        if not words:
            continue
        size = rng.randint(1, 4)
        start = rng.randrange(max(1, len(words) - size + 1))
        text = " ".join(words[start:start + size])
        form = rng.choice((lambda t: t, no_diacritics, telex))
        params = {"q": form(text)}
        roll = rng.random()
        if roll < 0.15:
            params["sort"] = "newest"
        elif roll < 0.25 and a.tags:
            params["tag"] = a.tags[0]
        elif roll < 0.35:
            params["page"] = "2"
        out.append(params)
    return out


def answer(client: Any, params: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/search?" + urlencode(params))
    assert response.status_code == 200, (params, response.get_json())
    data = response.get_json()
    data.pop("took_ms")
    return data


def digest(data: dict[str, Any]) -> dict[str, Any]:
    """What a difference is reported by (ids, totals) and a hash of the whole answer."""
    whole = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return {"total": data["total"], "ids": [h["id"] for h in data["hits"]],
            "sha256": hashlib.sha256(whole.encode("utf-8")).hexdigest()}


@pytest.fixture(scope="module")
def sample_client(sample_articles: tuple[Article, ...], tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("answers") / "index"
    build_index(sample_articles, home, procs=1)
    # No recency lift: it moves with the clock, and the answers must not.
    return create_app({"INDEX_DIR": str(home), "RECENCY_WEIGHT": 0.0, "RESULT_CACHE": 0}).test_client()


def test_answers_are_as_recorded(sample_client: Any, sample_articles: tuple[Article, ...]) -> None:
    got = {urlencode(p): digest(answer(sample_client, p)) for p in queries(sample_articles)}
    if os.environ.get("RECORD_ANSWERS"):
        FIXTURE.write_text(json.dumps(got, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    recorded = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert set(got) == set(recorded)
    changed = {q: (recorded[q], got[q]) for q in recorded if recorded[q] != got[q]}
    assert not changed, f"{len(changed)} of {len(recorded)} answers changed, e.g. {next(iter(changed.items()))}"
    assert sum(1 for d in got.values() if d["total"]) > QUERIES * 0.9  # the queries find things
