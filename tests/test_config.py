"""The settings table is the single source: docs/SETTINGS.md is generated from it and must match.

Regenerate the page after changing a setting with ``UPDATE_DOCS=1 pytest tests/test_config.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from searchsvc.config import DEFAULTS, SETTINGS, from_env

DOC = Path(__file__).parents[1] / "docs" / "SETTINGS.md"

# Defaults computed on the machine that runs searchsvc; the page describes them instead of
# printing whatever the machine that generated it had.
COMPUTED = {
    "INDEX_DIR": "`index/` of the checkout, else `./index`",
    "PROCS": "number of CPU cores",
}


def render() -> str:
    lines = [
        "# Settings",
        "",
        "Every setting of searchsvc, generated from the table in `searchsvc/config.py` by `tests/test_config.py`",
        "(regenerate with `UPDATE_DOCS=1 pytest tests/test_config.py`). Set one with the environment variable",
        "`SEARCHSVC_<NAME>`; the service (`create_app`, `wsgi.py`, `searchsvc serve`) and the CLI read the same",
        "variables. `create_app(test_config)` overrides both.",
        "",
        "| Setting | Environment variable | Default | Meaning |",
        "|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = COMPUTED.get(s.name) or (f"`{s.default}`" if s.default != "" else "(empty)")
        meaning = s.help.replace("|", r"\|")
        lines.append(f"| `{s.name}` | `SEARCHSVC_{s.name}` | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


def test_settings_page_matches_the_table() -> None:
    if os.environ.get("UPDATE_DOCS"):
        DOC.write_text(render(), encoding="utf-8")
    stale = "docs/SETTINGS.md is stale: run UPDATE_DOCS=1 pytest tests/test_config.py"
    assert DOC.read_text(encoding="utf-8") == render(), stale


def test_every_setting_has_a_unique_name_and_help() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names)) == len(DEFAULTS)
    assert all(s.help.strip() and s.name.isupper() for s in SETTINGS)


def test_from_env_converts_to_the_default_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCHSVC_PORT", "9001")
    monkeypatch.setenv("SEARCHSVC_QUERY_TIME_LIMIT", "0.5")
    monkeypatch.setenv("SEARCHSVC_HOST", "0.0.0.0")
    monkeypatch.setenv("SEARCHSVC_WORKERS", "")
    assert from_env("PORT") == 9001
    assert from_env("QUERY_TIME_LIMIT") == 0.5
    assert from_env("HOST") == "0.0.0.0"
    assert from_env("WORKERS") == DEFAULTS["WORKERS"]
