from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.servers import ServerProcess


@pytest.fixture(scope="module")
def quiet_server() -> Iterator[ServerProcess]:
    """No simulators, no heartbeats, a backlog of 5: every event comes from the test."""
    server = ServerProcess("--no-simulators", "--heartbeat", "0", "--backlog", "5",
                           "--retry-ms", "1234", "--max-event-bytes", "2000").start()
    yield server
    server.kill()


@pytest.fixture
def topic() -> str:
    """A topic name no other test uses."""
    return f"t-{uuid.uuid4().hex[:10]}"
