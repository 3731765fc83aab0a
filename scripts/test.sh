#!/usr/bin/env bash
# Install everything the tests need into .venv, then lint, type-check and run the whole suite.
# This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[test,cluster]"
bash scripts/install-browser.sh
bash scripts/install-haproxy.sh
ruff check searchsvc tests bench scripts wsgi.py
mypy searchsvc
pytest "$@"
