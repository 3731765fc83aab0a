"""Headline recall, a development set: a run of a title's words finds its article, typed three ways.

The set. From baomoi (all 35,440 records) and Dân Trí (the 224 records with a real headline), seeded:
an article, then a run of 3-5 whole pyvi words of its title (never across punctuation, never half a word;
a run of only stopwords or numbers is skipped), typed as written, without diacritics and in Telex; the
relevant document is that article. Left out: articles whose title, folded, is also a VietNews title (the
held-out headline set is built from VietNews), and articles whose folded title occurs twice in the
corpus (a syndicated copy would be an equally right answer). One index holds all of baomoi and all of
Dân Trí (headline-less records get their first sentence, bench/_news.py), so the Dân Trí queries have
35k distractors, cached under bench/out/headlines/index (rebuilt when the schema or format changes).

    python bench/headline_set.py [--baomoi 500] [--dantri 200] [--seed 14] [--rebuild]

Writes bench/out/headlines/: queries.jsonl (all forms), queries.<form>.jsonl and qrels.tsv (what
`searchsvc eval --queries --qrels` reads), corpus.jsonl.gz, results.json and losses.jsonl: every query
whose unaccented or Telex form ranks its article below the as-written rank, with the engine's reading
(query.restore) of each syllable and the class of the loss.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import subprocess
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from _corpus import OUT, STOPWORDS, searchsvc_index
from _news import NEWS, article_records

from searchsvc.evaluation import Query, no_diacritics, query_variants, restrict_qrels, score_run

HERE = OUT / "headlines"
FORMS = ("as_written", "no_diacritics", "telex")
SOURCES = {"baomoi": NEWS / "baomoi_2017.jsonl.gz", "dantri": NEWS / "dantri_unc.jsonl.gz"}
HELD_OUT = NEWS / "vietnews_test.jsonl.gz"
DEPTH = 100
_NUMBER = re.compile(r"[\d.,%/:-]+")
_HAS_WORD = re.compile(r"\w")


def _key(title: str) -> str:
    return " ".join(no_diacritics(unicodedata.normalize("NFC", title)).lower().split())


def _raw_titles(path: Path) -> dict[str, str]:
    from searchsvc.evaluation import load_corpus

    return {str(r["id"]): str(r.get("title") or "") for r in load_corpus(path)}


def load_records() -> tuple[list[dict[str, Any]], dict[str, set[str]]]:
    """Every indexable record of both corpora, and per source the ids whose headline is real."""
    records: list[dict[str, Any]] = []
    real: dict[str, set[str]] = {}
    for source, path in SOURCES.items():
        titled = {i for i, t in _raw_titles(path).items() if t.strip()}
        batch = list(article_records(path))
        real[source] = titled & {str(r["id"]) for r in batch}
        records += batch
    return records, real


def title_runs(title: str, size: int, stop: set[str]) -> list[str]:
    """Every run of ``size`` whole pyvi words of ``title`` inside one stretch without punctuation,
    with at least one word that is neither a stopword nor a number; syllables joined by spaces."""
    from pyvi import ViTokenizer

    stretches: list[list[str]] = [[]]
    for token in ViTokenizer.tokenize(unicodedata.normalize("NFC", title)).split():
        if _HAS_WORD.search(token.replace("_", "")):
            stretches[-1].append(token.replace("_", " "))
        elif stretches[-1]:
            stretches.append([])
    runs = []
    for words in stretches:
        for i in range(len(words) - size + 1):
            run = words[i:i + size]
            if any(w.lower() not in stop and not _NUMBER.fullmatch(w) for w in run):
                runs.append(" ".join(run))
    return runs


def make_set(records: Sequence[dict[str, Any]], real: dict[str, set[str]], counts: dict[str, int],
             seed: int) -> list[dict[str, Any]]:
    stop = {line.strip().lower() for line in STOPWORDS.read_text(encoding="utf-8").splitlines() if line.strip()}
    held_out = {_key(t) for t in _raw_titles(HELD_OUT).values() if t.strip()}
    seen: dict[str, int] = {}
    for r in records:
        seen[_key(r["title"])] = seen.get(_key(r["title"]), 0) + 1
    by_id = {str(r["id"]): r for r in records}
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for source, n in counts.items():
        pool = sorted(real[source])
        rng.shuffle(pool)
        taken = 0
        for doc_id in pool:
            if taken == n:
                break
            title = by_id[doc_id]["title"]
            if _key(title) in held_out or seen[_key(title)] > 1:
                continue
            size = rng.randint(3, 5)
            runs: list[str] = []
            while size >= 3 and not runs:
                runs = title_runs(title, size, stop)
                size -= 1
            if not runs:
                continue
            text = rng.choice(runs)
            taken += 1
            out.append({"id": f"{source[:2]}-{taken:03d}", "source": source, "article": doc_id, "title": title,
                        **query_variants(text)})
    return out


def write_set(queries: list[dict[str, Any]], records: Sequence[dict[str, Any]], rebuild: bool) -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    with (HERE / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for q in queries:
            fh.write(json.dumps({**q, "text": q["as_written"]}, ensure_ascii=False) + "\n")
    for form in FORMS:
        with (HERE / f"queries.{form}.jsonl").open("w", encoding="utf-8") as fh:
            for q in queries:
                fh.write(json.dumps({"id": q["id"], "text": q[form]}, ensure_ascii=False) + "\n")
    (HERE / "qrels.tsv").write_text("".join(f"{q['id']} 0 {q['article']} 1\n" for q in queries), encoding="utf-8")
    corpus = HERE / "corpus.jsonl.gz"
    if rebuild or not corpus.exists():
        with gzip.open(corpus, "wt", encoding="utf-8", compresslevel=1) as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def run_form(engine: Any, queries: list[dict[str, Any]], form: str) -> tuple[dict[str, list[Any]], float]:
    """Hits per query, as ``searchsvc eval`` runs them (evaluation.search_searchsvc: top 100, recency off),
    kept here with the engine open so the loss analysis reads the same snapshot and sees titles and scores."""
    from searchsvc.errors import InputError
    from searchsvc.search.engine import SearchRequest

    run: dict[str, list[Any]] = {}
    started = time.perf_counter()
    for q in queries:
        try:
            result = engine.search(SearchRequest(q=q[form], per_page=DEPTH, highlight=False, facets=False,
                                                 recency=False))
            run[q["id"]] = list(result.hits)
        except InputError:
            run[q["id"]] = []
    return run, 1000 * (time.perf_counter() - started) / max(len(queries), 1)


def rank_of(hits: list[Any], doc: str) -> int | None:
    return next((i for i, h in enumerate(hits, 1) if h.id == doc), None)


# ------------------------------------------------------------------------------------- where forms lose

SHORT = frozenset("da ma to la co ba ca bo di do ho me mo ne no so ta te ti tu va ve vi xa".split())
CLASSES = ("split differently", "Telex token not decoded", "Telex decoded wrongly", "restored wrongly",
           "question mode switched", "restored right, unsure", "word bonus missing",
           "lookalike title above", "tie", "other")


def _syllable_report(q: dict[str, Any], form: str, vocab: Any) -> dict[str, Any]:
    """What the engine made of the form's syllables (restore.py), against the title's own spelling."""
    from searchsvc.analysis import analyse, fold_text, syllables
    from searchsvc.query.parse import parse
    from searchsvc.query.plan import plan
    from searchsvc.query.restore import query_syllables, restore

    expected = syllables(q["as_written"])
    run = query_syllables(q[form], vocab)
    words = restore(run, vocab)
    report: dict[str, Any] = {"reading": [], "wrong": [], "undecoded": [], "miscoded": [], "unsure": [],
                              "missing_words": [], "names": []}
    report["question"] = (plan(parse(q[form]), vocab, q[form]).question,
                          plan(parse(q["as_written"]), vocab, q["as_written"]).question)
    if len(run) != len(expected):
        report["split"] = ([t.text for t in expected], [s.typed for s in run])
        return report
    raw = q["as_written"]
    for t, s, typed in zip(expected, run, (tok.text for tok in syllables(q[form]))):
        top = s.candidates[0] if s.candidates else (s.typed, 0.0)
        report["reading"].append(f"{s.typed}" if s.accented else f"{top[0]}({top[1]:.2f})")
        if raw[t.start:t.start + 1].isupper():
            report["names"].append(t.text)
        if form == "telex" and t.text != t.folded and not s.accented and fold_text(s.typed) != t.folded:
            report["undecoded"].append(typed)
        elif s.accented and s.typed != t.text and t.text != t.folded:
            report["miscoded"].append(f"{typed}→{s.typed} (not {t.text})")
        elif not s.accented and top[0] != t.text:
            others = [f for f, _ in s.candidates]
            report["wrong"].append({"folded": t.folded, "chose": top[0], "share": round(top[1], 2),
                                    "expected": t.text, "in_candidates": t.text in others,
                                    "in_index": t.text in vocab.exact_df})
        elif not s.accented and top[1] < 0.9:
            report["unsure"].append(f"{t.text}({top[1]:.2f})")
    offered = {w for _, _, forms in words for w in forms}
    report["missing_words"] = [t.text for t in analyse(q["as_written"]) if t.is_word and t.text not in offered]
    return report


def _classify(q: dict[str, Any], form: str, rep: dict[str, Any], hits: list[Any], rank: int | None) -> str:
    from searchsvc.analysis import fold_text

    if "split" in rep:
        return "split differently"
    for key, name in (("undecoded", "Telex token not decoded"), ("miscoded", "Telex decoded wrongly"),
                      ("wrong", "restored wrongly")):
        if rep[key]:
            return name
    if rep["question"][0] != rep["question"][1]:
        return "question mode switched"
    if rep["unsure"]:
        return "restored right, unsure"
    if rep["missing_words"]:
        return "word bonus missing"
    above = hits[: (rank or len(hits) + 1) - 1]
    folded_run = fold_text(q["as_written"])
    if any(folded_run in fold_text(h.title) and q["as_written"].lower() not in h.title.lower() for h in above):
        return "lookalike title above"
    if rank and above and abs(above[-1].score - hits[rank - 1].score) <= 1e-6 * max(1.0, abs(above[-1].score)):
        return "tie"
    return "other"


def analyse_losses(engine: Any, queries: list[dict[str, Any]], ranks: dict[str, dict[str, int | None]],
                   runs: dict[str, dict[str, list[Any]]]) -> list[dict[str, Any]]:
    """Every (query, form) whose form ranks the article worse than as written, where as written found it."""
    vocab = engine.snapshot.vocabulary
    out = []
    for q in queries:
        r = ranks[q["id"]]
        if r["as_written"] is None:
            continue
        for form in FORMS[1:]:
            if r[form] is not None and r[form] <= r["as_written"]:
                continue
            rep = _syllable_report(q, form, vocab)
            hits = runs[form][q["id"]]
            out.append({"id": q["id"], "form": form, "text": q[form], "as_written": q["as_written"],
                        "title": q["title"], "rank_as_written": r["as_written"], "rank": r[form],
                        "class": _classify(q, form, rep, hits, r[form]), **rep,
                        "top": [h.title for h in hits[:3]]})
    return out


def print_breakdown(losses: list[dict[str, Any]], examples: int) -> None:
    from collections import Counter

    for form in FORMS[1:]:
        mine = [x for x in losses if x["form"] == form]
        print(f"\n## {form}: {len(mine)} losses "
              f"({sum(x['rank'] is None for x in mine)} not in the top {DEPTH})")
        by_class = Counter(x["class"] for x in mine)
        for name in CLASSES:
            if by_class[name]:
                lost = sum(_lost(x) for x in mine if x["class"] == name)
                print(f"  {name:<28} {by_class[name]:>4}  reciprocal rank lost {lost:.1f}")
        wrong = Counter(f"{w['folded']}: {w['chose']} for {w['expected']}" for x in mine for w in x["wrong"])
        short = sum(w["folded"] in SHORT or len(w["folded"]) <= 2 for x in mine for w in x["wrong"])
        names = sum(bool(x["names"]) for x in mine if x["class"] == "restored wrongly")
        print(f"  restoration errors: {sum(wrong.values())} syllables ({short} short: folded ≤ 2 letters or "
              f"{'/'.join(sorted(SHORT)[:6])}…); restored-wrongly losses with a capitalised syllable: {names}")
        print("  most frequent: " + "; ".join(f"{k} ×{n}" for k, n in wrong.most_common(20)))
        undecoded = Counter(t for x in mine for t in x["undecoded"])
        if undecoded:
            print("  Telex tokens left as typed: " + ", ".join(f"{k} ×{n}" for k, n in undecoded.most_common(20)))
        for name in CLASSES:
            shown = [x for x in mine if x["class"] == name][:examples]
            if shown:
                print(f"\n  ### {name}")
            for x in shown:
                detail = x.get("split") or x["undecoded"] or x["miscoded"] or [
                    f"{w['folded']}→{w['chose']}({w['share']}) not {w['expected']}" for w in x["wrong"]] or \
                    x["unsure"] or x["missing_words"] or x["top"][:1]
                print(f"  {x['id']} {x['rank_as_written']}→{x['rank'] or '-'}  {x['text']!r}  "
                      f"[{' '.join(x['reading'])}]  {detail}")


def _lost(x: dict[str, Any]) -> float:
    after = 1 / x["rank"] if x["rank"] and x["rank"] <= 10 else 0.0
    before = 1 / x["rank_as_written"] if x["rank_as_written"] <= 10 else 0.0
    return before - after


# ------------------------------------------------------------------------------------- prototype fixes
# Measured by monkeypatching the engine in this process only (the fixes belong to query/restore.py).

DECODE_RATIO = 3.0


def _decode_frequent() -> None:
    """Decode a lowercase Telex/VNI-looking token that is in the index when its decoded form is DECODE_RATIO
    times more frequent (``cos`` vs ``có``); today a token is decoded only when it is in no document.
    Capitalised tokens keep today's rule: ``Max``, ``Hari`` are names, not ``mã``, ``hải``."""
    import searchsvc.query.restore as r
    from searchsvc.analysis import fold_text, syllables
    from searchsvc.analysis.keyboard import decode_keys

    def decoded(text: str, tok: Any, vocab: Any) -> Any:
        if tok.text == tok.folded and not text[tok.start:tok.start + 1].isupper():
            raw = vocab.fold_df.get(tok.folded, 0)
            for cand in decode_keys(tok.text):
                if vocab.exact_df.get(cand, 0) > DECODE_RATIO * raw:
                    return r.Syllable(cand, fold_text(cand), True, tok.start, tok.end)
        return r.typed_syllable(tok, vocab)

    original = r.query_syllables

    def query_syllables(text: str, vocab: Any, decode: bool = True) -> list[Any]:
        if not decode:  # the lead's verbatim plans (query.plan on main after 7a064ff) decode nothing
            return original(text, vocab, decode=False)
        return [decoded(text, tok, vocab) for tok in syllables(text)]

    for module in _importers("query_syllables"):
        module.query_syllables = query_syllables


def _importers(name: str) -> list[Any]:
    """The engine's modules that hold ``name`` from restore.py (imported by name, so each must be patched)."""
    import sys

    import searchsvc.query.restore as r
    import searchsvc.search.engine  # noqa: F401  (imports every user of restore.py)

    original = getattr(r, name)
    return [m for m in list(sys.modules.values())
            if m is not None and m.__name__.startswith("searchsvc") and getattr(m, name, None) is original]


def _top_full_weight() -> None:
    """The likeliest restored form gets the full exact weight (as if typed), the second its share relative
    to the first: a right restoration then scores what the accented query scores."""
    import searchsvc.query.restore as r

    original = r.restore

    def restore(run: list[Any], vocab: Any) -> Any:
        words = original(run, vocab)
        for s in run:
            if not s.accented and s.candidates:
                top = s.candidates[0][1]
                s.candidates = [(f, share / top) for f, share in s.candidates]
        return words

    for module in _importers("restore"):
        module.restore = restore


def _three_forms() -> None:
    """Three restored forms per syllable down to a share of 0.02 (today two, 0.05)."""
    import searchsvc.query.restore as r

    r.MAX_CANDIDATES, r.MIN_SHARE = 3, 0.02


PHRASE_WEIGHT = 1.0


def _folded_phrase() -> None:
    """A bonus for the whole typed run as a folded phrase (text_fold), whatever the accents restored to:
    a title holding ``he de phoi`` folded is the likely known item even when ``hè`` was restored as ``hề``."""
    import searchsvc.query.plan as p
    import searchsvc.search.engine as e
    from searchsvc.analysis import syllables
    from searchsvc.query.nodes import AndMaybe, Phrase

    original = p.plan

    def plan(parsed: Any, vocab: Any, text: str = "", **options: Any) -> Any:
        out = original(parsed, vocab, text, **options)
        run = tuple(t.folded for t in syllables(text))
        if len(run) >= 2 and '"' not in text and ":" not in text and out.loose is not None:
            bonus = Phrase("text_fold", run, boost=PHRASE_WEIGHT)
            out.loose = AndMaybe(out.loose, bonus)
            out.strict = AndMaybe(out.strict, bonus) if out.strict is not None else None
        return out

    e.plan = plan


def _no_feedback() -> None:
    """No second look (search/feedback.py, shipped): the bigram model's reading alone, as before it."""
    import searchsvc.search.feedback as f

    f.unsure = lambda p: False


PROTOTYPES = {"no-feedback": _no_feedback,
              "decode-frequent": _decode_frequent, "top-full-weight": _top_full_weight, "three-forms": _three_forms,
              "folded-phrase": _folded_phrase}


def time_second_look(home: Any, queries: list[dict[str, Any]], rounds: int = 3) -> None:
    """Per-query latency of each form with the second look (search/feedback.py) and without it, interleaved
    query by query in one process (answer cache off), so the ratio holds on a loaded machine too."""
    import statistics

    import searchsvc.search.feedback as f
    from searchsvc.search.engine import Engine, SearchRequest

    engine = Engine.open(home, {"RESULT_CACHE": 0, "WARM_TERMS": 0})
    shipped = f.unsure
    print(f"\nlatency (ms per query, page of 10, {rounds} rounds; load average {os.getloadavg()[0]:.1f}):")
    for form in FORMS:
        took: dict[str, list[float]] = {"on": [], "off": []}
        for round_ in range(rounds):
            for i, q in enumerate(queries):
                req = SearchRequest(q=q[form], highlight=True, facets=True)
                # Which goes first alternates: the second run of a query finds its pages warm.
                for mode in (("on", "off") if (i + round_) % 2 else ("off", "on")):
                    f.unsure = shipped if mode == "on" else (lambda p: False)
                    started = time.perf_counter()
                    engine.search(req)
                    took[mode].append(1000 * (time.perf_counter() - started))
        f.unsure = shipped
        looked = sum(_looks_again(engine, q[form]) for q in queries)
        p50 = {m: statistics.median(v) for m, v in took.items()}
        p95 = {m: statistics.quantiles(v, n=20)[-1] for m, v in took.items()}
        print(f"  {form:<14} second look on {looked}/{len(queries)}: p50 {p50['on']:.1f} vs {p50['off']:.1f} "
              f"({p50['on'] / p50['off']:.2f}x), p95 {p95['on']:.1f} vs {p95['off']:.1f} "
              f"({p95['on'] / p95['off']:.2f}x)")
    print(f"  load average {os.getloadavg()[0]:.1f} after")


def _looks_again(engine: Any, text: str) -> bool:
    import searchsvc.search.feedback as f
    from searchsvc.query.parse import parse
    from searchsvc.query.plan import plan

    return f.unsure(plan(parse(text), engine.snapshot.vocabulary, text))


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


@click.command()
@click.option("--baomoi", "n_baomoi", default=500, show_default=True, help="Queries from baomoi titles.")
@click.option("--dantri", "n_dantri", default=200, show_default=True, help="Queries from Dân Trí's real titles.")
@click.option("--seed", default=14, show_default=True)
@click.option("--rebuild", is_flag=True, help="Rebuild the cached index and corpus copy.")
@click.option("--procs", default=2, show_default=True, help="Processes for the index build.")
@click.option("--examples", default=15, show_default=True, help="Examples printed per loss class.")
@click.option("--latency", is_flag=True, help="Also time every form with and without the second look.")
@click.option("--prototype", "prototypes", multiple=True, type=click.Choice(sorted(PROTOTYPES)),
              help="Monkeypatch a candidate fix into the engine for this run (repeatable).")
def main(n_baomoi: int, n_dantri: int, seed: int, rebuild: bool, procs: int, examples: int, latency: bool,
         prototypes: tuple[str, ...]) -> None:
    import searchsvc
    from searchsvc.articles import article_from_mapping
    from searchsvc.search.engine import Engine

    print(f"searchsvc from {Path(searchsvc.__file__).parent} (repo HEAD {commit()}); "
          f"load average {os.getloadavg()[0]:.1f}")
    for name in prototypes:
        PROTOTYPES[name]()
        print(f"prototype: {name}: {PROTOTYPES[name].__doc__.split(chr(10))[0]}")
    records, real = load_records()
    queries = make_set(records, real, {"baomoi": n_baomoi, "dantri": n_dantri}, seed)
    write_set(queries, records, rebuild)
    print(f"{len(records):,} documents; {len(queries)} queries "
          f"({sum(q['source'] == 'baomoi' for q in queries)} baomoi, {sum(q['source'] == 'dantri' for q in queries)}"
          f" Dân Trí) in {HERE}")
    articles = [article_from_mapping(r, max_chars=10**9) for r in records]
    home = searchsvc_index(articles, None, rebuild, procs=procs, home_dir=HERE / "index")
    del articles
    engine = Engine.open(home)
    qrels = {q["id"]: {q["article"]: 1} for q in queries}
    runs: dict[str, dict[str, list[Any]]] = {}
    rows = []
    for form in FORMS:
        runs[form], ms = run_form(engine, queries, form)
        for source in ("all", "baomoi", "dantri"):
            subset = [Query(q["id"], q[form]) for q in queries if source in ("all", q["source"])]
            ids = {qid: [h.id for h in hits] for qid, hits in runs[form].items()}
            m = score_run(ids, restrict_qrels(qrels, subset))
            rows.append({"form": form, "source": source, "mrr10": m.mrr10, "recall10": m.recall10,
                         "recall100": m.recall100, "queries": m.queries, "query_ms": ms})
    print(f"\nload average {os.getloadavg()[0]:.1f} after the runs")
    print(f"{'set':<8} {'form':<14} {'MRR@10':>7} {'R@10':>6} {'R@100':>6} {'gap':>7} {'q ms':>6}")
    for r in rows:
        base = next(b for b in rows if b["source"] == r["source"] and b["form"] == "as_written")
        gap = base["mrr10"] - r["mrr10"]
        print(f"{r['source']:<8} {r['form']:<14} {r['mrr10']:7.3f} {r['recall10']:6.3f} {r['recall100']:6.3f} "
              f"{gap:7.3f} {r['query_ms']:6.1f}")
    ranks = {q["id"]: {f: rank_of(runs[f][q["id"]], q["article"]) for f in FORMS} for q in queries}
    losses = analyse_losses(engine, queries, ranks, runs)
    with (HERE / ("losses" + "".join(f"+{p}" for p in prototypes) + ".jsonl")).open("w", encoding="utf-8") as fh:
        for loss in losses:
            fh.write(json.dumps(loss, ensure_ascii=False) + "\n")
    print_breakdown(losses, examples)
    name = "results" + "".join(f"+{p}" for p in prototypes) + ".json"
    (HERE / name).write_text(json.dumps({"commit": commit(), "seed": seed, "prototypes": prototypes, "rows": rows},
                                        indent=1), encoding="utf-8")
    if latency:
        time_second_look(home, queries)


if __name__ == "__main__":
    main()
