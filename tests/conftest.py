from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.servers import ServerProcess

# The slow lane, left out by `make test-fast`: soak, fuzzing, Redis, the benchmark smoke test.
SLOW = (
    "tests/redis/",
    "tests/bench/test_bench_smoke.py",
    "tests/hardening/test_soak.py",
    "tests/hardening/test_client_fuzz.py",
    "tests/hardening/test_bad_input.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server_factory() -> Iterator[Callable[..., ServerProcess]]:
    """Start real servers: `server_factory("--seed", "1")`; all are killed at the end."""
    started: list[ServerProcess] = []

    def start(*args: str, port: int | None = None,
              preexec_fn: Callable[[], None] | None = None) -> ServerProcess:
        server = ServerProcess(*args, port=port, preexec_fn=preexec_fn)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def demo_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A seeded demo server with quick heartbeats."""
    return server_factory("--seed", "7", "--heartbeat", "0.5", "--speed", "5")
