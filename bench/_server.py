"""Starting and stopping `searchsvc serve` for the benches that load it over loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
# The CLI as a subprocess with this interpreter; SEARCHSVC_* settings of the caller's shell are not inherited.
CLI = [sys.executable, "-c", "from searchsvc.cli import main; main()"]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def serve(home: Path, workers: int, timeout: float) -> tuple[subprocess.Popen[bytes], str]:
    """`searchsvc serve` on a free loopback port in its own process group, once /healthz answers."""
    port = free_port()
    proc = subprocess.Popen([*CLI, "--index-dir", str(home), "--quiet", "serve", "--port", str(port),
                             "--workers", str(workers)], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5):
                return proc, base
        except OSError:  # URLError is an OSError
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise SystemExit("searchsvc serve did not come up") from None
            time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (gunicorn stops its workers gracefully)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
