"""Real `sse-demo-server` processes on free loopback ports, for tests that fault them for real."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def read_head(sock: socket.socket, bufsize: int = 4096) -> bytes:
    """Bytes received until the end of an HTTP response head, or until the peer closed."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(bufsize)
        if not chunk:
            break
        received += chunk
    return received


def require(installed: object, tool: str, install: str) -> None:
    """Skip a test whose `tool` is missing, except in CI (`CI=true`): there `make test` installs
    it, so its absence is a failure."""
    if installed is not None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{tool} is not installed, and CI must not skip its tests (make test "
                    "installs it)")
    pytest.skip(f"{tool} is not installed ({install})")


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`python -m server --port PORT ARGS...` in a subprocess; restartable on the same port."""

    def __init__(self, *args: str, port: int | None = None,
                 preexec_fn: Callable[[], None] | None = None) -> None:
        self.args = list(args)
        self.port = port or free_port()
        self.preexec_fn = preexec_fn  # run in the child before the server, e.g. to set rlimits
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> ServerProcess:
        cmd = [sys.executable, "-m", "server", "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=self.preexec_fn,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{out}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server on port {self.port} did not become ready in {timeout}s")

    def kill(self) -> None:
        """SIGKILL: the fault, done for real."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def terminate(self, timeout: float = 10.0) -> float:
        """SIGTERM and wait; returns the seconds it took to exit."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        return time.monotonic() - started

    def restart(self) -> ServerProcess:
        self.kill()
        return self.start()

    def output(self) -> str:
        """Everything the server printed (only after it has exited)."""
        assert self.proc is not None and self.proc.poll() is not None
        return self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
