"""Search answers on all of baomoi, recorded before a change and compared after it (a refactor changes none).

    python bench/answers.py record   # writes bench/out/answers_baomoi.json from the current code
    python bench/answers.py compare  # the same queries now; prints how many answers differ, and exits 1 if any

The queries are bench/_corpus.py's seeded mix (300); each answer is the API's JSON (hits with scores and
highlights, totals, tiers, facets, did-you-mean; no time taken, no recency lift, no answer cache) through
the real app. The index is the cached bench index, rebuilt when its schema or format changed.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _corpus as corpus  # noqa: E402

from searchsvc.web.app import create_app  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "answers_baomoi.json"


def answers(rebuild: bool) -> dict[str, dict[str, Any]]:
    articles, vocab = corpus.load_articles(None)
    home = corpus.searchsvc_index(articles, None, rebuild)
    client = create_app({"INDEX_DIR": str(home), "RECENCY_WEIGHT": 0.0, "RESULT_CACHE": 0}).test_client()
    out: dict[str, dict[str, Any]] = {}
    for query in corpus.make_queries(articles, vocab, 300):
        params = [("q", query.q), *(("tag", t) for t in query.tags)]
        data = client.get("/api/search?" + urlencode(params)).get_json()
        data.pop("took_ms", None)
        whole = json.dumps(data, ensure_ascii=False, sort_keys=True)
        out[query.label()] = {"total": data.get("total"), "ids": [h["id"] for h in data.get("hits", [])],
                              "sha256": hashlib.sha256(whole.encode("utf-8")).hexdigest()}
    return out


@click.command()
@click.argument("mode", type=click.Choice(["record", "compare"]))
@click.option("--rebuild", is_flag=True, help="Rebuild the cached index first.")
def main(mode: str, rebuild: bool) -> None:
    got = answers(rebuild)
    if mode == "record":
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(got, ensure_ascii=False, indent=0), encoding="utf-8")
        print(f"recorded {len(got)} answers to {OUT}")
        return
    recorded = json.loads(OUT.read_text(encoding="utf-8"))
    changed = [q for q in recorded if recorded[q] != got.get(q)]
    same_ids = sum(1 for q in changed if recorded[q]["ids"] == got.get(q, {}).get("ids"))
    print(f"{len(recorded) - len(changed)} of {len(recorded)} answers identical; {len(changed)} differ "
          f"({same_ids} of them with the same hits in the same order)")
    for q in changed[:10]:
        print(f"  {q!r}: {recorded[q]['total']} {recorded[q]['ids'][:3]} -> {got.get(q)}")
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
