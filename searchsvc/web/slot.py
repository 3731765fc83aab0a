"""The process's one search engine, shared by every request of a worker."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import current_app, g

from searchsvc.errors import IndexUnavailable
from searchsvc.search.engine import Engine
from searchsvc.store.w3 import unreadable_is_unavailable

log = logging.getLogger(__name__)
EXTENSION = "searchsvc.engine"


class EngineSlot:
    """The process's one Engine, opened on first use so a missing index costs a 503, not a crash.

    Gunicorn forks workers after loading the app; opening lazily gives each worker its own readers
    instead of file handles shared across a fork.
    """

    def __init__(self, index_dir: Path, settings: Mapping[str, Any]) -> None:
        self.index_dir = index_dir
        self.settings = settings
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def get(self) -> Engine:
        with self._lock:
            if self._engine is None:
                # IndexUnavailable propagates and the slot stays empty: the next request tries again,
                # which is how a worker recovers once a good generation is published.
                with unreadable_is_unavailable(self.index_dir, log):
                    self._engine = Engine.open(self.index_dir, self.settings)
                return self._engine
            engine = self._engine
        try:
            with unreadable_is_unavailable(self.index_dir, log):
                engine.refresh()
        except IndexUnavailable:
            with self._lock:
                if self._engine is engine:
                    self._engine = None
            raise
        return engine


def get_engine() -> Engine:
    """The engine for this request, refreshed at most once per request."""
    if "searchsvc_engine" not in g:
        slot: EngineSlot = current_app.extensions[EXTENSION]
        g.searchsvc_engine = slot.get()
    engine: Engine = g.searchsvc_engine
    return engine


