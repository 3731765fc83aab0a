"""Replica lag and what each part of a replicated deployment costs in memory and disk.

Runs the cluster of tests/test_replicas_haproxy.py (a primary, two replicas started with
``serve --replica-of``, Debian's HAProxy with deploy/haproxy.cfg, three reader threads through HAProxy)
through the same reindex, two adds and SIGKILL of a replica, and prints: requests and failures through
HAProxy, HAProxy's retries and redispatches, each replica's lag (commit on the primary to the article
served by the replica, and to the replica's CURRENT switch), memory (RSS and PSS of each process group)
and disk of each index home, with the load average and ratios measured in the same run.

    python bench/replicas.py                                   # the packaged sample (394 articles)
    python bench/replicas.py --corpus ../shared/data/X.jsonl.gz --workers 2 2 --json out/replicas.json
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_replicas_haproxy import run_scenario  # noqa: E402  # the test's cluster, not a copy of it

from searchsvc.sample import SAMPLE_PATH  # noqa: E402


@click.command()
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), default=SAMPLE_PATH, show_default=True,
              help="What the primary indexes (and reindexes under load).")
@click.option("--workers", type=(int, int), default=(2, 2), show_default=True,
              help="gunicorn workers of the primary and of each replica (equal: memory compares like with like).")
@click.option("--pause", type=float, default=0.01, show_default=True,
              help="Seconds each reader waits between requests.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Also write the figures here.")
def main(corpus: Path, workers: tuple[int, int], pause: float, json_out: Path | None) -> None:
    before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="replicas-bench-") as work:
        figures = run_scenario(Path(work), pause=pause, corpus=corpus, workers=workers)
    figures["loadavg_before"] = before
    mem = figures["memory_mib"]
    replica_pss = (mem["replica1"]["pss"] + mem["replica2"]["pss"]) / 2
    figures["ratios"] = {
        "replica_pss_over_primary_pss": round(replica_pss / mem["primary"]["pss"], 2),
        "haproxy_pss_over_replica_pss": round(mem["haproxy"]["pss"] / replica_pss, 3),
        "replica_disk_over_primary_disk": round(figures["disk_mib"]["replica1"] / figures["disk_mib"]["primary"], 2),
    }
    lag = figures["lag_s"]
    print(f"corpus {corpus}, workers primary {workers[0]} / replica {workers[1]}, "
          f"load average {before[0]:.2f} before, {figures['loadavg'][0]:.2f} after")
    print(f"through HAProxy: {figures['requests']} requests, {figures['failures']} failed; "
          f"retries {figures['haproxy']['replicas/BACKEND']['retries']}, "
          f"redispatches {figures['haproxy']['replicas/BACKEND']['redispatches']}")
    for job, per in lag.items():
        shown = ", ".join(f"{r} {s:.2f} s" for r, s in per.items())
        switch = figures.get("switch_s", {}).get(job)
        extra = f" (CURRENT switched: {', '.join(f'{r} {s:.2f} s' for r, s in switch.items())})" if switch else ""
        print(f"lag after {job}: {shown}{extra}")
    print(f"replica2 restart to /healthz: {figures['replica2_restart_to_healthz_s']:.2f} s")
    for name, m in mem.items():
        disk = figures["disk_mib"].get(name)
        print(f"{name:9s} {m['processes']} processes  RSS {m['rss']:7.1f} MiB  PSS {m['pss']:7.1f} MiB"
              + (f"  disk {disk:.1f} MiB" if disk is not None else ""))
    print("ratios (same run):", json.dumps(figures["ratios"]))
    if json_out is not None:
        json_out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
