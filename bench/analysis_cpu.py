"""CPU of analysis against pyvi alone, on the same articles: is a whole reindex cheaper than pyvi itself?

Three measurements of the first ``--limit`` baomoi articles, each in a fresh process forked before any
text was analysed (so no cache is warm), in one run:

* **pyvi**: ``pyvi.ViTokenizer.tokenize`` on every title, lead and body (articles read beforehand);
* **segmentation**: ``searchsvc.analysis.segment.word_spans`` on the same texts, NFC-normalised as the
  analysis does it (articles read beforehand);
* **reindex**: ``reindex(IndexHome(tmp), read_sources([corpus]), procs=1)``: reading the gzip, normalising,
  segmenting, folding, postings, bigrams, writing segments, the vocabulary and the publication.

CPU is ``resource.getrusage`` of the measuring process and its children (user + system), taken around
the work only; peak RSS is that process's ``ru_maxrss`` (which includes what it shares with the parent
after ``fork``: pyvi's model and the interpreter). The target of issue 15 is reindex ÷ pyvi ≤ 0.5. The load
average is printed beside the figures: on a busy machine compare the ratios, measured in the same run.

    python bench/analysis_cpu.py --limit 2000
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import tempfile
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import click

from searchsvc.articles import Article
from searchsvc.ingest import read_sources

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "news" / "baomoi_2017.jsonl.gz"
OUT = Path(__file__).resolve().parent / "out"


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in kB.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def _measured(work: Callable[[], Any], out: Any) -> None:
    started = _cpu()
    result = work()
    out.put((_cpu() - started, _peak_rss_mb(), result))


def _in_child(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(CPU s, peak RSS MB, result) of ``work`` run in a fresh forked process."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    proc = ctx.Process(target=_measured, args=(work, out))
    proc.start()
    cpu, rss, result = out.get()
    proc.join()
    if proc.exitcode:
        raise SystemExit(f"measurement failed (exit code {proc.exitcode})")
    return cpu, rss, result


def _texts(corpus: Path, limit: int) -> list[str]:
    articles = [a for a in islice(read_sources([str(corpus)]), limit) if isinstance(a, Article)]
    return [t for a in articles for t in (a.title, a.lead, a.body) if t]


def _pyvi(texts: list[str]) -> Callable[[], int]:
    def run() -> int:
        from pyvi import ViTokenizer

        return sum(len(ViTokenizer.tokenize(t)) for t in texts)

    return run


def _segmentation(texts: list[str]) -> Callable[[], int]:
    def run() -> int:
        from searchsvc.analysis.normalize import normalize
        from searchsvc.analysis.segment import word_spans

        return sum(len(word_spans(normalize(t)[0])) for t in texts)

    return run


def _reindex(corpus: Path, limit: int) -> Callable[[], int]:
    def run() -> int:
        from searchsvc.store.home import IndexHome
        from searchsvc.store.writer import reindex

        with tempfile.TemporaryDirectory(prefix="bench-analysis-cpu-") as tmp:
            report = reindex(IndexHome(Path(tmp)), islice(read_sources([str(corpus)]), limit), procs=1)
        return report.indexed

    return run


@click.command()
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=CORPUS,
              show_default=True)
@click.option("--limit", type=int, default=2000, show_default=True, help="The first N records.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              default=OUT / "analysis_cpu.json", show_default=True)
def main(corpus: Path, limit: int, json_path: Path) -> None:
    # Loaded here, outside every measurement, as pyvi loads its model on import: the children inherit both.
    from pyvi import ViTokenizer  # noqa: F401

    from searchsvc.analysis.segment import load_model

    load_model()
    texts = _texts(corpus, limit)
    load_before = os.getloadavg()
    rows: dict[str, tuple[float, float, Any]] = {
        "pyvi ViTokenizer": _in_child(_pyvi(texts)),
        "searchsvc segmentation": _in_child(_segmentation(texts)),
        "searchsvc reindex, 1 proc": _in_child(_reindex(corpus, limit)),
    }
    load_after = os.getloadavg()
    pyvi_cpu = rows["pyvi ViTokenizer"][0]
    click.echo(f"{limit:,} records of {corpus.name}, {len(texts):,} texts (title, lead, body)")
    click.echo(f"{'measurement':28} {'CPU s':>8} {'÷ pyvi':>7} {'peak RSS MB':>12}")
    for name, (cpu, rss, _) in rows.items():
        click.echo(f"{name:28} {cpu:8.2f} {cpu / pyvi_cpu:7.3f} {rss:12.0f}")
    click.echo(f"load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}; "
               f"after {', '.join(f'{x:.2f}' for x in load_after)}; {os.cpu_count()} CPUs")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({
        "corpus": str(corpus), "limit": limit, "texts": len(texts), "cpus": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": load_after,
        "rows": [{"measurement": name, "cpu_s": cpu, "ratio_to_pyvi": cpu / pyvi_cpu, "peak_rss_mb": rss}
                 for name, (cpu, rss, _) in rows.items()],
    }, indent=2), encoding="utf-8")
    click.echo(f"wrote {json_path}")


if __name__ == "__main__":
    main()
