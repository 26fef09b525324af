"""A real redis-server per test, on a free loopback port, that a test can stop and start again."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.procs import redis_answers, redis_command
from tests.servers import free_port, require

REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    """`redis-server` without persistence: a restart loses every stream, as a crash would."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        assert REDIS_SERVER is not None
        self.proc = subprocess.Popen(redis_command(REDIS_SERVER, self.port, str(self.workdir)),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            if self.ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not answer in {timeout}s")

    def ping(self) -> bool:
        return redis_answers(self.port)

    def stop(self) -> None:
        """SIGKILL: Redis goes away as in a crash, with everything it held."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require(REDIS_SERVER, "redis-server", "apt-get install redis-server")
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()
