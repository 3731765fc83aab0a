"""Bounded load on loopback while the index changes underneath: requests/s, p50/p99 and errors.

    python bench/reliability_load.py [--articles 5000] [--clients 16] [--duration 60] [--adds 4] [--json]

1. Takes the first ``--articles`` baomoi 2017 articles (/work/shared/data/news/baomoi_2017.jsonl.gz) and
   builds an index of them with ``searchsvc reindex`` (kept in --work, reused when usable). The dump
   has no tags, so each article gets keyword tags from its title (``Xổ số``, ``Bóng đá``...) to give tag
   filters something to filter; the text is left as it is.
2. Serves it with ``searchsvc serve --workers 2`` on a free loopback port.
3. Runs ``--clients`` threads for at least ``--duration`` seconds with a query mix drawn from the
   corpus titles: 1-4 word queries with and without diacritics, quoted phrases, tag filters, newest
   first, page 2, and type-ahead suggestions.
4. Meanwhile starts a full ``searchsvc reindex`` of the same corpus (which switches the generation)
   and ``--adds`` ``searchsvc add`` jobs of 100 new articles each, spread over the run. The clients
   keep going until the reindex has switched and every add has finished (at most --max-duration).
5. Afterwards every added article must be served (none lost to the switch) and the error count,
   i.e. answers other than 200 plus connection failures, must be 0.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import CLI, ENV, serve, stop  # noqa: E402

from searchsvc.analysis import fold_text
from searchsvc.errors import SearchsvcError
from searchsvc.store.home import IndexHome

BAOMOI = Path("/work/shared/data/news/baomoi_2017.jsonl.gz")
KEYWORD_TAGS = {"xổ số": "Xổ số", "bóng đá": "Bóng đá", "vàng": "Giá vàng", "tết": "Tết", "giao thông": "Giao thông",
                "tai nạn": "Tai nạn", "điện thoại": "Công nghệ", "trường": "Giáo dục", "học sinh": "Giáo dục",
                "bệnh": "Sức khỏe", "thời tiết": "Thời tiết", "mưa": "Thời tiết", "giá": "Thị trường"}


def tags_for(title: str) -> list[str]:
    low = title.lower()
    return sorted({tag for word, tag in KEYWORD_TAGS.items() if word in low})


def prepare(work: Path, articles: int, adds: int) -> tuple[Path, list[Path], list[dict[str, Any]]]:
    corpus = work / "corpus.jsonl"
    add_files = [work / f"add{n}.jsonl" for n in range(adds)]
    records: list[dict[str, Any]] = []
    with gzip.open(BAOMOI, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            record["tags"] = tags_for(record.get("title") or "")
            records.append(record)
            if len(records) >= articles + 100 * adds:
                break
    if not corpus.exists():
        corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[:articles]),
                          encoding="utf-8")
    for n, path in enumerate(add_files):
        batch = records[articles + 100 * n : articles + 100 * (n + 1)]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in batch), encoding="utf-8")
    return corpus, add_files, records[:articles]


def query_mix(records: list[dict[str, Any]], n: int, rng: random.Random) -> list[str]:
    """URLs (path + query) in the proportions of a news search box."""
    titles = [r["title"].split() for r in records if r.get("title")]
    tags = sorted({t for r in records for t in r["tags"]})
    urls = []
    for _ in range(n):
        words = rng.choice(titles)
        size = min(len(words), rng.choice((1, 2, 2, 3, 3, 4)))
        start = rng.randrange(0, len(words) - size + 1)
        text = " ".join(w.strip(".,:;!?\"'()[]") for w in words[start : start + size]).strip() or "tin"
        roll = rng.random()
        params: list[tuple[str, str]] = []
        if roll < 0.10:
            urls.append("/api/suggest?" + urllib.parse.urlencode({"q": fold_text(text)[:rng.randint(2, 6)]}))
            continue
        if roll < 0.45:
            text = fold_text(text)  # typed without diacritics
        elif roll < 0.60 and size >= 2:
            text = f'"{text}"'
        params.append(("q", text))
        extra = rng.random()
        if extra < 0.15 and tags:
            params.append(("tag", rng.choice(tags)))
        elif extra < 0.25:
            params.append(("sort", "newest"))
        elif extra < 0.30:
            params.append(("page", "2"))
        urls.append("/api/search?" + urllib.parse.urlencode(params))
    return urls


class Load:
    def __init__(self, base: str, urls: list[str], clients: int) -> None:
        self.base, self.urls = base, urls
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.statuses: dict[int, int] = {}
        self.partial = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]

    def _client(self, k: int) -> None:
        i = k * 7919
        while not self.stop.is_set():
            url = self.base + self.urls[i % len(self.urls)]
            i += 1
            started = time.perf_counter()
            status, error, partial = 0, None, False
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    body = response.read()
                    status = response.status
                    partial = b'"partial":true' in body
            except urllib.error.HTTPError as exc:
                status, error = exc.code, f"{exc.code} {url} {exc.read()[:200]!r}"
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc} ({url})"
            elapsed = time.perf_counter() - started
            with self._lock:
                self.latencies.append(elapsed)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                self.partial += partial
                if error or status != 200:
                    self.errors.append(error or f"{status} {url}")

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(120)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def usable(home: Path) -> bool:
    """An index from an earlier run is reused unless it is missing or of another schema version."""
    try:
        IndexHome(home).meta(IndexHome(home).current())
    except SearchsvcError:
        return False
    return True


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    corpus, add_files, records = prepare(work, args.articles, args.adds)
    home = work / "index"
    build_seconds = None
    if not usable(home):
        started = time.monotonic()
        subprocess.run([*CLI, "--index-dir", str(home), "--quiet", "reindex", "--procs", "2", str(corpus)],
                       env=ENV, check=True)
        build_seconds = round(time.monotonic() - started, 1)
    urls = query_mix(records, 5000, random.Random(args.seed))
    server, base = serve(home, args.workers, 180)
    jobs: list[tuple[str, float, subprocess.Popen[bytes]]] = []
    load = Load(base, urls, args.clients)
    gen_before = IndexHome(home).current().number
    load_avg_start = os.getloadavg()
    try:
        started = time.monotonic()
        load.start()
        time.sleep(min(5.0, args.duration / 10))
        jobs.append(("reindex", time.monotonic() - started, subprocess.Popen(
            [*CLI, "--index-dir", str(home), "--quiet", "reindex", "--procs", str(args.reindex_procs), str(corpus)],
            env=ENV, stderr=subprocess.PIPE)))
        for n, path in enumerate(add_files):
            time.sleep(args.duration * 0.6 / max(1, len(add_files)))
            jobs.append((f"add{n}", time.monotonic() - started, subprocess.Popen(
                [*CLI, "--index-dir", str(home), "--quiet", "add", str(path)], env=ENV, stderr=subprocess.PIPE)))
        deadline = started + args.max_duration
        ended: dict[str, float] = {}
        while time.monotonic() < deadline and (
            time.monotonic() - started < args.duration or any(p.poll() is None for _, _, p in jobs)
        ):
            for name, _, proc in jobs:
                if name not in ended and proc.poll() is not None:
                    ended[name] = time.monotonic() - started
            time.sleep(0.2)
        time.sleep(1.0)  # a last second of queries on the final state
        load.join()
        seconds = time.monotonic() - started
        job_results = []
        for name, at, proc in jobs:
            if proc.poll() is None:
                proc.kill()
            _, err = proc.communicate()
            job_results.append({"job": name, "started_at_s": round(at, 1),
                                "ended_at_s": round(ended.get(name, time.monotonic() - started), 1),
                                "exit": proc.returncode,
                                "stderr": err.decode()[-300:]})
        added_ids = [json.loads(line)["id"] for path in add_files for line in path.read_text().splitlines()]
        missing = []
        for ident in added_ids:
            try:
                with urllib.request.urlopen(f"{base}/api/articles/{urllib.parse.quote(ident)}", timeout=30):
                    pass
            except urllib.error.HTTPError:
                missing.append(ident)
        gen_after = IndexHome(home).current().number
    finally:
        stop(server)
    lat = load.latencies
    return {
        "articles": args.articles, "clients": args.clients, "workers": args.workers, "build_seconds": build_seconds,
        "seconds": round(seconds, 1), "requests": len(lat), "requests_per_s": round(len(lat) / seconds, 1),
        "p50_ms": round(1000 * statistics.median(lat), 1), "p90_ms": round(1000 * percentile(lat, 90), 1),
        "p99_ms": round(1000 * percentile(lat, 99), 1), "max_ms": round(1000 * max(lat), 1),
        "errors": len(load.errors), "error_samples": load.errors[:10], "statuses": load.statuses,
        "partial_results": load.partial, "generation": [gen_before, gen_after], "jobs": job_results,
        "added": len(added_ids), "added_missing": len(missing), "load_average_start": load_avg_start,
        "load_average_end": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="least seconds of load")
    parser.add_argument("--max-duration", type=float, default=900.0, help="most seconds of load")
    parser.add_argument("--adds", type=int, default=4, help="`searchsvc add` jobs of 100 articles each")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reindex-procs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path("/tmp/searchsvc-reliability-load"),
                        help="folder for the corpus and the index (reused between runs)")
    parser.add_argument("--json", action="store_true", help="also write bench/out/reliability_load.json")
    args = parser.parse_args()
    result = run(args)
    print(f"{result['requests']:,} requests in {result['seconds']} s = {result['requests_per_s']} req/s; "
          f"p50 {result['p50_ms']} ms, p90 {result['p90_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms")
    print(f"errors: {result['errors']}; statuses: {result['statuses']}; partial results: {result['partial_results']}")
    print(f"generation {result['generation'][0]} -> {result['generation'][1]}; jobs: "
          + ", ".join(f"{j['job']} exit {j['exit']}" for j in result["jobs"])
          + f"; added articles missing afterwards: {result['added_missing']} of {result['added']}")
    if args.json:
        out = Path(__file__).parent / "out" / "reliability_load.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    ok = result["errors"] == 0 and result["added_missing"] == 0 and all(j["exit"] == 0 for j in result["jobs"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
