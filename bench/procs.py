"""Server processes under measurement (ours, the baselines, redis-server): start, wait until
healthy, read RSS and CPU, stop."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from types import TracebackType
from typing import Self

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def raise_nofile_limit() -> int:
    """Lift this process's open-file soft limit to the hard limit; returns the new limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _is_healthy(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class ServerProcess:
    """`python -m MODULE --port PORT ARGS...`, its output kept in a temporary log file."""

    def __init__(self, module: str, *args: str, python: str = sys.executable) -> None:
        self.python = python  # another interpreter (venv) compares installs, e.g. uvloop
        self.module = module
        self.args = list(args)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: a full pipe would stall the server. Closed in stop().
        self.log = tempfile.TemporaryFile()  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        return [self.python, "-m", self.module, "--port", str(self.port), *self.args]

    def ready(self) -> bool:
        return _is_healthy(self.port)

    def start(self, timeout: float = 20.0) -> Self:
        cmd = self.command()
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=raise_nofile_limit, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{' '.join(cmd)} exited with {self.proc.returncode}:\n"
                                   f"{self.output()}")
            if self.ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{' '.join(cmd)} was not healthy within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:  # said, as a server that hangs on SIGTERM is a bug
                print(f"bench: {self.module} on port {self.port} ignored SIGTERM for 5 s; killed",
                      file=sys.stderr)
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


class RedisProcess(ServerProcess):
    """`redis-server` on a free port, without persistence: a fresh, empty Redis for one run."""

    def __init__(self, binary: str) -> None:
        super().__init__("redis-server")
        self.binary = binary
        self.workdir = tempfile.TemporaryDirectory()  # where a stray dump would go

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return redis_command(self.binary, self.port, self.workdir.name)

    def ready(self) -> bool:
        return redis_answers(self.port)

    def stop(self) -> None:
        super().stop()
        self.workdir.cleanup()


def redis_command(binary: str, port: int, workdir: str) -> list[str]:
    """A loopback redis-server without persistence (the Redis tests use it too)."""
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", workdir]


def redis_answers(port: int) -> bool:
    """Whether the redis-server on `port` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def cpu_probe_us() -> float:
    """Microseconds for a fixed pure-Python loop, best of five: on a shared machine the same code
    ran 1.8 times slower within one hour, so runs are compared only with this beside them."""
    return min(timeit.repeat("sum(i * i for i in range(10_000))", number=100, repeat=5)) * 1e4
