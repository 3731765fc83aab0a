"""Rebuild the packaged sample from ../shared/data and check it is byte for byte the shipped one.

tests/test_sample.py checks the writer on the shipped articles without the data; this is the whole
check: the same picks from every corpus, read the same way, written to the same bytes and README.

    python bench/sample_rebuild.py [--data ../shared/data]
"""

from __future__ import annotations

import runpy
import tempfile
from pathlib import Path

import click

from searchsvc.sample import SAMPLE_PATH

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FILES = ("articles.jsonl.gz", "README.md")


@click.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=DATA,
              show_default=True)
def main(data: Path) -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "build_sample.py"))
    articles = script["build"](data)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        script["write"](articles, out)
        differ = [name for name in FILES if (out / name).read_bytes() != (SAMPLE_PATH.parent / name).read_bytes()]
    print(f"{len(articles)} articles rebuilt from {data}")
    for name in FILES:
        print(f"  {name:<20} {'DIFFERS from' if name in differ else 'identical to'} the shipped file")
    if differ:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
