"""The settings table is the single source: docs/SETTINGS.md is generated from it and must match.

Regenerate the page after changing a setting with ``UPDATE_DOCS=1 pytest tests/test_config.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from searchsvc.config import DEFAULTS, SETTINGS, load
from searchsvc.errors import SettingsError

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
        "variables, parsed and checked once at start by `config.load`: a bad value stops the start with one line",
        "naming the setting. `create_app(test_config)` overrides both.",
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


def test_load_converts_to_the_default_type() -> None:
    env = {"SEARCHSVC_PORT": "9001", "SEARCHSVC_QUERY_TIME_LIMIT": "0.5", "SEARCHSVC_HOST": "0.0.0.0",
           "SEARCHSVC_WORKERS": "", "SEARCHSVC_OPERATOR_TOKEN": "1e6", "SEARCHSVC_SHRINK_GUARD": "1"}
    settings = load(env)
    assert settings["PORT"] == 9001 and settings["QUERY_TIME_LIMIT"] == 0.5 and settings["HOST"] == "0.0.0.0"
    assert settings["WORKERS"] == DEFAULTS["WORKERS"]  # empty means the default
    assert settings["OPERATOR_TOKEN"] == "1e6"  # text stays text, whatever it looks like
    assert settings["SHRINK_GUARD"] == 1.0 and isinstance(settings["SHRINK_GUARD"], float)
    assert set(settings) == set(DEFAULTS)


@pytest.mark.parametrize("name, value", [("PORT", "80.5"), ("PORT", "70000"), ("WORKERS", "0"), ("PROCS", "two"),
                                         ("QUERY_TIME_LIMIT", "fast"), ("QUERY_TIME_LIMIT", "inf"),
                                         ("SHRINK_GUARD", "1.5"), ("MAX_QUERY_CHARS", "5000")])
def test_load_refuses_bad_values_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load({f"SEARCHSVC_{name}": value})
    assert caught.value.message.startswith(f"SEARCHSVC_{name}={value!r} ")


def test_overrides_are_checked_too() -> None:
    assert load({}, {"RESULT_CACHE": 0, "UNRELATED": 1})["RESULT_CACHE"] == 0
    with pytest.raises(SettingsError):
        load({}, {"PORT": "x"})
