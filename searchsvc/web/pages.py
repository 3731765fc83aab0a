"""The reader's search page (``/``) and the editors' desk (``/editor``).

Both pages are static HTML that talk only to the public JSON API from plain JS modules in
``static/``; nothing here queries the index. The templates take no user input, only a few settings
passed as ``data-`` attributes, so the strict Content-Security-Policy set in ``app.py`` (no inline
script or style) holds.

Static files are served under ``/static/web/``: the app's own ``/static/`` route (Flask's default
static folder) would otherwise shadow a blueprint route at ``/static/``.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/web")


def _limits() -> dict[str, int]:
    # The page caps its pager and per-page choice with the server's own limits instead of
    # learning them from a 400.
    return {
        "max_per_page": int(current_app.config["MAX_PER_PAGE"]),
        "max_result_window": int(current_app.config["MAX_RESULT_WINDOW"]),
    }


@bp.get("/")
def reader() -> str:
    return render_template("reader.html", **_limits())


@bp.get("/editor")
def editor() -> str:
    return render_template("editor.html", **_limits())
