"""How far the running reindex has got, as a small file in the index home that the server's /metrics reads.

A reindex runs in a CLI process, not in the server, so it leaves its progress where the server can see it:
``reindex.progress.json`` (pid, start, articles read, stage, last update), rewritten atomically at most once a
second and removed when the job ends, published or not. A job killed by SIGKILL leaves the file behind; its
pid is then dead, and ``read`` reports it as not running. The pid check holds on the machine that owns the
index home, which is where a reindex runs (even a cluster reindex: its coordinator writes the generation).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

FILE = "reindex.progress.json"
EVERY = 1.0  # seconds between rewrites while reading: a reindex reads thousands of articles a second

T = TypeVar("T")


class Progress:
    def __init__(self, home: Path) -> None:
        self.path = Path(home) / FILE
        self.started = time.time()
        self.read = 0
        self.stage = "reading"
        self._written = 0.0

    def count(self, items: Iterable[T]) -> Iterator[T]:
        """``items`` passed through, counting them."""
        for item in items:
            self.read += 1
            if time.monotonic() - self._written >= EVERY:
                self._write()
            yield item
        self._write()

    def at(self, stage: str) -> None:
        self.stage = stage
        self._write()

    def end(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        self._written = time.monotonic()
        state = {"pid": os.getpid(), "started": self.started, "read": self.read, "stage": self.stage,
                 "updated": time.time()}
        tmp = self.path.with_name(f"{FILE}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.path)


def read(home: Path) -> dict[str, Any] | None:
    """The running reindex's progress (``started``, ``read``, ``stage``, ``updated``), or None when none runs."""
    try:
        state: dict[str, Any] = json.loads((Path(home) / FILE).read_text(encoding="utf-8"))
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # killed: nothing runs, whatever the file says
    except PermissionError:
        pass  # alive, another user's
    return state
