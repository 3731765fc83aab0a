"""The ``searchsvc`` command: thin wrappers over indexing, search and evaluation.

Every domain error becomes one line on stderr (``click.ClickException``), never a traceback; this
and the Flask error handler are the only two places that translate errors. Defaults come from
the settings table through ``SEARCHSVC_*`` environment variables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from gunicorn.app.base import BaseApplication

from searchsvc import config, gunicorn_conf
from searchsvc.articles import Rejected, Superseded
from searchsvc.errors import SearchsvcError
from searchsvc.ingest import FORMATS, read_sources
from searchsvc.store import cluster, writer
from searchsvc.store.home import IndexHome
from searchsvc.store.snapshot import Snapshot
from searchsvc.store.w3 import unreadable_is_unavailable
from searchsvc.store.writer import plural


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SearchsvcError as exc:
            raise click.ClickException(exc.message) from None


class _Opts:
    """What every command shares: the settings (parsed once, at start) and the global options."""

    def __init__(self, settings: dict[str, Any], index_dir: Path | None, quiet: bool) -> None:
        self.settings = settings
        self.index_dir = index_dir or Path(settings["INDEX_DIR"])
        self.quiet = quiet

    @property
    def home(self) -> IndexHome:
        return IndexHome(self.index_dir)

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)


def _set_index_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    opts = ctx.find_object(_Opts)  # made by ``main``, which click runs before parsing the subcommand
    if value is not None and opts is not None:
        opts.index_dir = value


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    opts = ctx.find_object(_Opts)
    if value and opts is not None:
        opts.quiet = True


def _global_options(f: Any) -> Any:
    """--index-dir and --quiet, accepted before the subcommand and after it, as users type them."""
    f = click.option("--index-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     expose_value=False, callback=_set_index_dir, is_eager=True,
                     help="Index home (default: SEARCHSVC_INDEX_DIR, else ./index).")(f)
    return click.option("--quiet", "-q", is_flag=True, expose_value=False, callback=_set_quiet, is_eager=True,
                        help="No progress bars or summaries; rejections and errors still print.")(f)


@click.group(cls=_Group)
@click.option("--index-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Index home (default: SEARCHSVC_INDEX_DIR, else ./index).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or summaries; rejections and errors still print.")
@click.pass_context
def main(ctx: click.Context, index_dir: Path | None, quiet: bool) -> None:
    """Full-text search for Vietnamese news."""
    ctx.obj = _Opts(config.load(), index_dir, quiet)


pass_opts = click.make_pass_decorator(_Opts)
_sources = click.argument("sources", nargs=-1, required=True)
_format = click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                       help="Reader for every SOURCE (default: by extension; folders and .txt are scraped pages).")
_max_rejects = click.option("--max-rejects", type=click.IntRange(min=0), default=0, show_default=True,
                            help="Rejected records tolerated; over it the job exits 1 and changes nothing.")


def _report(report: writer.IngestReport) -> None:
    notes: list[Rejected | Superseded] = [*report.superseded, *report.rejected]
    for r in notes:
        click.echo(_place(r) + ": " + r.reason, err=True)


def _place(r: Rejected | Superseded) -> str:
    return r.source if r.line == 0 else f"{r.source}:{r.line}"


def _job(run: Any) -> writer.IngestReport:
    """Run an indexing job; a refused one still shows what it read before its one-line error."""
    try:
        report: writer.IngestReport = run()
    except writer.Refused as exc:
        _report(exc.report)
        raise click.ClickException(exc.message) from None
    _report(report)
    return report


def _read(opts: _Opts, sources: Sequence[str], fmt: str | None) -> Any:
    return read_sources(list(sources), fmt, max_chars=int(opts.settings["MAX_ARTICLE_CHARS"]))


@main.command()
@_global_options
@_sources
@_format
@click.option("--procs", type=click.IntRange(min=1), default=None,
              help="Indexing processes (default: SEARCHSVC_PROCS).")
@_max_rejects
@click.option("--allow-shrink", is_flag=True,
              help="Publish even when the new index holds fewer than SEARCHSVC_SHRINK_GUARD of the serving one.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:8786",
              help="Build the segments on this Dask cluster (default: SEARCHSVC_SCHEDULER; empty: --procs here).")
@pass_opts
def reindex(opts: _Opts, sources: tuple[str, ...], fmt: str | None, procs: int | None, max_rejects: int,
            allow_shrink: bool, scheduler: str | None) -> None:
    """Build a new index generation from SOURCE... and switch to it; on any failure nothing changes.

    SOURCE is a .jsonl or .jsonl.gz file, a scraped page (.txt) or a folder of them, or - for JSONL on stdin.
    """
    guard = 0.0 if allow_shrink else float(opts.settings["SHRINK_GUARD"])
    s = opts.settings
    with cluster.executor_for(scheduler or s["SCHEDULER"], s["SCHEDULER_TIMEOUT"], s["SCHEDULER_CHUNK_MB"]) as ex:
        report = _job(lambda: writer.reindex(opts.home, _read(opts, sources, fmt), procs=procs or s["PROCS"],
                                               progress=not opts.quiet, max_rejects=max_rejects, shrink_guard=guard,
                                               executor=ex))
    opts.say(f"indexed {plural(report.indexed, 'article')} into generation {report.generation} in "
             f"{report.seconds:.1f} s; {len(report.rejected):,} rejected")


@main.command()
@_global_options
@_sources
@_format
@_max_rejects
@pass_opts
def add(opts: _Opts, sources: tuple[str, ...], fmt: str | None, max_rejects: int) -> None:
    """Add or replace (by id) articles from SOURCE... in the current generation; over the reject limit, nothing."""
    report = _job(lambda: writer.add(opts.home, _read(opts, sources, fmt), progress=not opts.quiet,
                                       max_rejects=max_rejects))
    generation = report.generation or opts.home.current().number
    opts.say(f"added {plural(report.indexed, 'article')} into generation {generation} in {report.seconds:.1f} s; "
             f"{len(report.rejected):,} rejected")


@main.command()
@_global_options
@click.argument("ids", nargs=-1, required=True)
@click.option("--missing-ok", is_flag=True,
              help="Delete the ids that are there; without it a missing id changes nothing.")
@pass_opts
def delete(opts: _Opts, ids: tuple[str, ...], missing_ok: bool) -> None:
    """Delete articles by ID (exits 1, deleting nothing, when one is not in the index, unless --missing-ok)."""
    report = writer.delete(opts.home, ids, missing_ok=missing_ok)
    unique = len(set(ids))
    opts.say(f"deleted {report.deleted:,} of {plural(unique, 'id')} from generation {report.generation}")
    if report.deleted < unique:
        click.echo(f"{plural(unique - report.deleted, 'id')} {'was' if unique - report.deleted == 1 else 'were'} "
                   "not in the index", err=True)


@main.command()
@_global_options
@pass_opts
def stats(opts: _Opts) -> None:
    """Documents, generation, size on disk, schema version and last change of the serving index."""
    gen = opts.home.current()
    meta = opts.home.meta(gen)
    size = sum(p.stat().st_size for p in gen.path.rglob("*") if p.is_file())
    with unreadable_is_unavailable(gen.path):
        snapshot = Snapshot.open(gen)
        segments = snapshot.segments
        snapshot.close()
    rows = [
        ("index", str(opts.home.path)),
        ("documents", f"{meta.get('doc_count', 0):,}"),
        ("generation", str(gen.number)),
        ("size on disk", _human(size)),
        ("schema version", str(meta.get("schema_version"))),
        ("format version", str(meta.get("format_version"))),
        ("segments", str(segments)),
        ("built", str(meta.get("created", "?"))),
        ("last change", str(meta.get("updated", "?"))),
    ]
    for name, value in rows:
        click.echo(f"{name + ':':16}{value}")


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


@main.command()
@_global_options
@click.argument("query")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=10, show_default=True, help="Hits to show.")
@pass_opts
def search(opts: _Opts, query: str, limit: int) -> None:
    """Search the index and print each hit's title, id, date and score."""
    from searchsvc.search.engine import Engine, SearchRequest

    engine = Engine.open(opts.home.path, opts.settings)
    result = engine.search(SearchRequest(q=query, per_page=limit, highlight=False, facets=False))
    opts.say(f"{result.total:,} results in {result.took_ms:.0f} ms"
             + (f"; did you mean: {result.did_you_mean}" if result.did_you_mean else ""))
    for hit in result.hits:
        day = (hit.published or "")[:10] or "-"
        click.echo(f"{hit.title}\n    {hit.id}  {day}  {hit.score:.3f}")


@main.command()
@_global_options
@click.option("--host", default=None, help="Bind address (default: SEARCHSVC_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default: SEARCHSVC_PORT, 8000).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="gunicorn worker processes.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Threads per worker.")
@click.option("--replica-of", "replica_of", default=None, metavar="URL",
              help="Serve a read-only copy of the primary at URL, kept current (default: SEARCHSVC_REPLICA_OF).")
@pass_opts
def serve(opts: _Opts, host: str | None, port: int | None, workers: int | None, threads: int | None,
          replica_of: str | None) -> None:
    """Serve the API and the search page with gunicorn (builds a sample index first if there is none)."""
    from searchsvc.sample import SAMPLE_PATH

    primary = replica_of or opts.settings["REPLICA_OF"]  # a replica copies its index: web/replication.py
    if not primary and not opts.home.exists():
        click.echo(f"no index in {opts.home.path}: building one from the packaged sample {SAMPLE_PATH}", err=True)
        report = writer.reindex(opts.home, _read(opts, [str(SAMPLE_PATH)], None), progress=not opts.quiet)
        opts.say(f"indexed {plural(report.indexed, 'sample article')}")
    s = opts.settings
    bind = f"{host or s['HOST']}:{port if port is not None else s['PORT']}"
    _Gunicorn(
        {"INDEX_DIR": str(opts.home.path), **({"REPLICA_OF": replica_of} if replica_of else {})},
        {"bind": bind, "workers": workers or s["WORKERS"], "threads": threads or s["THREADS"],
         "accesslog": None if opts.quiet else "-",
         "limit_request_line": gunicorn_conf.limit_request_line},
    ).run()


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn run in-process with our options; each worker builds its own app with create_app."""

    def __init__(self, app_config: dict[str, Any], options: dict[str, Any]) -> None:
        self.app_config = app_config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if value is not None and key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        from searchsvc.web.app import create_app

        return create_app(self.app_config)


@main.command("eval")
@_global_options
@click.option("--corpus", required=True, type=click.Path(exists=True, dir_okay=False), help="Corpus JSONL(.gz).")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False),
              help="Queries JSONL {id, text} (search evaluation).")
@click.option("--qrels", type=click.Path(exists=True, dir_okay=False), help="TREC qrels (search evaluation).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--recency", is_flag=True, help="Apply the news recency lift (off by default: judged sets are timeless).")
@click.option("--procs", type=int, default=None, help="Processes for indexing the corpus (default: every core).")
@click.option("--related", is_flag=True, help="Judge related articles by --label instead of searching QUERIES.")
@click.option("--label", default=None, help="With --related: the field that judges a related story (same value: a "
              "hit), or a derivation: breadcrumb-last, breadcrumb-first.")
@click.option("--copies", default=None, help="With --related: the field naming each record's copy group.")
@click.option("--sample", type=click.IntRange(min=1), default=300, show_default=True,
              help="With --related: articles asked for their related stories.")
@click.option("--seed", type=int, default=0, show_default=True, help="With --related: the sample's seed.")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="With --related: related stories asked for each article.")
@pass_opts
def evaluate(opts: _Opts, corpus: str, queries: str | None, qrels: str | None, as_json: bool, recency: bool,
             procs: int | None, related: bool, label: str | None, copies: str | None, sample: int, seed: int,
             limit: int) -> None:
    """Index CORPUS in a temporary folder, run QUERIES and score them against QRELS.

    With --related: index CORPUS without its labels and judge the related stories of a seeded sample by
    whether they share the article's LABEL, list the article itself, or list a copy of it.
    """
    ctx = click.get_current_context()
    procs = procs or int(opts.settings["PROCS"])
    if related:
        _refuse_options(ctx, ("queries", "qrels", "recency"), "--related")
        if label is None and copies is None:
            raise click.UsageError("--related needs --label, --copies or both", ctx)
        _evaluate_related(opts, corpus, label, copies, sample, seed, limit, procs, as_json)
        return
    _refuse_options(ctx, ("label", "copies", "sample", "seed", "limit"), "search evaluation (without --related)")
    for param in ctx.command.params:
        if param.name in ("queries", "qrels") and ctx.params[param.name] is None:
            raise click.MissingParameter(ctx=ctx, param=param)
    assert queries is not None and qrels is not None
    from searchsvc.evaluation import load_qrels, load_queries, run_searchsvc

    try:
        metrics = run_searchsvc(corpus, load_queries(queries), load_qrels(qrels), procs=procs, recency=recency)
    except (ValueError, KeyError) as exc:  # malformed evaluation files: the caller's to fix
        raise click.ClickException(f"cannot evaluate: {exc}") from None
    values = {"mrr@10": metrics.mrr10, "ndcg@10": metrics.ndcg10, "recall@10": metrics.recall10,
              "recall@100": metrics.recall100, "queries": metrics.queries}
    if as_json:
        click.echo(json.dumps({**values, "index_seconds": metrics.index_seconds, "query_ms": metrics.query_ms}))
        return
    for name, value in values.items():
        click.echo(f"{name + ':':12}{value}" if name == "queries" else f"{name + ':':12}{value:.4f}")


def _refuse_options(ctx: click.Context, names: Sequence[str], mode: str) -> None:
    given = [f"--{name}" for name in names
             if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)]
    if given:
        raise click.UsageError(f"{', '.join(given)} cannot be used with {mode}", ctx)


def _evaluate_related(opts: _Opts, corpus: str, label: str | None, copies: str | None, sample: int, seed: int,
                      limit: int, procs: int, as_json: bool) -> None:
    from searchsvc.evaluation_related import evaluate_related

    try:
        m = evaluate_related(corpus, label, copies, sample=sample, seed=seed, limit=limit, procs=procs,
                             settings=opts.settings)
    except (ValueError, KeyError) as exc:  # a corpus without the label, or malformed: the caller's to fix
        raise click.ClickException(f"cannot evaluate: {exc}") from None
    values: dict[str, Any] = {
        "label": m.label, "articles": m.articles, "sampled": m.sampled, "p@5": m.p5, "p@10": m.p10,
        "returned": m.returned, "self_matches": m.self_matches, "with_copies": m.with_copies,
        "copies_listed": m.copies_listed, "index_seconds": m.index_seconds, "p50_ms": m.p50_ms, "p95_ms": m.p95_ms,
    }
    if as_json:
        click.echo(json.dumps(values, ensure_ascii=False))
        return
    rows = [("label", m.label or "-"), ("articles", f"{m.articles:,}"), ("sampled", f"{m.sampled:,}")]
    if m.p5 is not None and m.p10 is not None:
        rows += [("p@5", f"{m.p5:.4f}"), ("p@10", f"{m.p10:.4f}")]
    rows += [("returned", f"{m.returned:.2f}"), ("self-matches", str(m.self_matches))]
    if copies is not None:
        rows.append(("copies listed", f"{m.copies_listed} of {m.with_copies} with a copy"))
    rows.append(("related ms", f"p50 {m.p50_ms:.1f}, p95 {m.p95_ms:.1f}"))
    for name, value in rows:
        click.echo(f"{name + ':':15}{value}")
