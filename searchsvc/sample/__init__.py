"""The packaged sample corpus: a few hundred attributed Vietnamese news articles (see README.md here)."""

from __future__ import annotations

from pathlib import Path

# A plain path next to this file: the package is installed as files (setuptools package-data), and
# the readers take paths, not resource objects.
SAMPLE_PATH: Path = Path(__file__).parent / "articles.jsonl.gz"
