"""Replication over HTTP: the primary's two endpoints, a replica's refusal of writes and its poller.

The primary answers ``GET /replication/commit`` (the manifest of the commit it serves) and
``GET /replication/files/<generation>/<name>`` (a file of a generation it keeps), both behind
``REPLICATION_TOKEN``. A replica (``REPLICA_OF`` set) polls the first and fetches from the second
(``store/replica.py``); it never writes to the primary, and answers writes sent to it with a 403.

Every gunicorn worker of a replica starts a poller thread, but only the one holding the home's
``replica.lock`` flock copies: the kernel releases the lock when that worker dies, and another
worker's thread takes over within one poll interval.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file

from searchsvc.errors import Forbidden, LockTimeout, NotFound, SearchsvcError
from searchsvc.store.home import IndexHome
from searchsvc.store.replica import Checksums, Replica, commit_manifest, open_served_file

log = logging.getLogger(__name__)
bp = Blueprint("replication", __name__)
_CHECKSUMS = "searchsvc.replication.checksums"
_WRITES = frozenset({"api.add_articles", "api.delete_article"})
STATUS = "replica-status.json"  # in a replica's home: the poller's last round, for whichever worker is asked


def _home() -> IndexHome:
    return IndexHome(Path(current_app.config["INDEX_DIR"]))


def _require_token() -> None:
    token = str(current_app.config.get("REPLICATION_TOKEN") or "")
    if not token:
        raise Forbidden("replication is disabled: set SEARCHSVC_REPLICATION_TOKEN to enable it")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # compare_digest: the time taken must not reveal how much of a guessed token was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Forbidden("missing or wrong replication token (send 'Authorization: Bearer <token>')")


@bp.get("/replication/commit")
def commit() -> Response:
    _require_token()
    manifest = commit_manifest(_home(), current_app.extensions[_CHECKSUMS])
    response = jsonify(manifest.to_json())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/replication/files/<generation>/<name>")
def files(generation: str, name: str) -> Response:
    _require_token()
    fh, size = open_served_file(_home(), generation, name)
    response = send_file(fh, mimetype="application/octet-stream", download_name=name, conditional=False)
    response.headers["Content-Length"] = str(size)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/replication/status")
def status() -> Response:
    """A replica's last round: when it last copied or checked, what it serves, the error it meets if any."""
    _require_token()
    if not current_app.config.get("REPLICA_OF"):
        raise NotFound("this server is a primary: it has no replication status")
    try:
        state: dict[str, Any] = json.loads((_home().path / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {"last_success": None, "error": "no round finished yet"}
    if state.get("last_success"):
        state["seconds_since_success"] = round(time.time() - float(state["last_success"]), 3)
    response = jsonify(state)
    response.headers["Cache-Control"] = "no-store"
    return response


def replica_lag(app: Flask) -> float | None:
    """Seconds since this replica last found itself serving the primary's commit (None: never, or not a
    replica). Read from the status file, so every worker reports what the polling worker saw."""
    if not app.config.get("REPLICA_OF"):
        return None
    try:
        last = json.loads((Path(app.config["INDEX_DIR"]) / STATUS).read_text(encoding="utf-8")).get("last_success")
    except (OSError, ValueError):
        return None
    return max(0.0, time.time() - float(last)) if last else None


def _refuse_writes_on_replica() -> None:
    primary = str(current_app.config.get("REPLICA_OF") or "")
    if primary and request.endpoint in _WRITES:
        raise Forbidden(f"this server is a read replica of {primary}: send changes to the primary")


def init_app(app: Flask) -> None:
    """Register the endpoints, and on a replica the write refusal and the poller."""
    app.extensions[_CHECKSUMS] = Checksums()
    app.register_blueprint(bp)
    app.before_request(_refuse_writes_on_replica)
    primary = str(app.config.get("REPLICA_OF") or "")
    if primary:
        start_poller(IndexHome(Path(app.config["INDEX_DIR"])), primary, str(app.config["REPLICATION_TOKEN"]),
                     float(app.config["REPLICATION_POLL_INTERVAL"]))


def start_poller(home: IndexHome, primary: str, token: str, interval: float) -> threading.Thread:
    thread = threading.Thread(target=_poll_forever, args=(Replica(home, primary, token), interval),
                              daemon=True, name="replica-poller")
    thread.start()
    return thread


def _poll_forever(replica: Replica, interval: float) -> None:
    while True:
        try:
            with replica.home.lock("replica", timeout=0.0):
                failing = ""
                while True:
                    failing = _poll_once(replica, failing)
                    time.sleep(interval)
        except LockTimeout:
            time.sleep(interval)  # another worker copies; take over if it dies


def _poll_once(replica: Replica, failing: str) -> str:
    """One round; returns the failure it met ("" for none), so a primary that stays down is logged once."""
    try:
        report = replica.sync()
    except (SearchsvcError, OSError) as exc:
        # The primary down or mid-commit: keep serving what is here and try again next round.
        message = exc.message if isinstance(exc, SearchsvcError) else f"{type(exc).__name__}: {exc}"
        if message != failing:
            log.warning("replication from %s into %s failed: %s", replica.primary, replica.home.path, message)
        _write_status(replica.home, {"error": message})
        return message
    _write_status(replica.home, {"last_success": time.time(), "commit": report.commit,
                                 "primary_generation": report.generation, "error": None,
                                 **({"last_copy": time.time(), "last_copy_files": report.downloaded,
                                     "last_copy_bytes": report.downloaded_bytes} if report.published else {})})
    if failing:
        log.warning("replication from %s works again", replica.primary)
    if report.published:
        log.info("replicated %s commit %.12s as local generation %d: %d downloaded (%d bytes), %d linked, "
                 "%d resumed", report.generation, report.commit, report.published, report.downloaded,
                 report.downloaded_bytes, report.linked, report.resumed)
    return ""


def _write_status(home: IndexHome, update: dict[str, Any]) -> None:
    path = home.path / STATUS
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    state.update(update, last_attempt=time.time(), checked=datetime.now(UTC).isoformat())
    try:
        home.path.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{STATUS}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, path)  # a worker answering /replication/status never reads half a file
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc)
