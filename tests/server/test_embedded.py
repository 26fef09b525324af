"""EmbeddedServer: the whole server in a thread, as `sse-monitor --demo` runs it."""

from __future__ import annotations

import socket

import httpx
import pytest

from server.embedded import EmbeddedServer
from tests.server.helpers import open_stream


@pytest.mark.anyio
async def test_embedded_server_streams_and_stops_cleanly() -> None:
    with EmbeddedServer(seed=5, speed=20, heartbeat=0.2, ticker=50) as server:
        assert server.topics == ["progress", "logs", "tokens", "ticker"]
        assert server.url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as client:
            rows = (await client.get(f"{server.url}/topics")).json()["topics"]
        names = [row["name"] for row in rows]
        assert names == server.topics
        async with open_stream(server.url, "tokens") as stream:
            events = await stream.take(3)
            beat = await stream.take(1, keep=lambda e: e.type == "heartbeat")
        assert all(e.type.startswith("TEXT_MESSAGE_") for e in events) and beat
    assert server._thread is not None and not server._thread.is_alive()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=1):
        pass


def test_two_embedded_servers_are_independent() -> None:
    with EmbeddedServer(seed=1) as one, EmbeddedServer(seed=1, simulators=False) as two:
        assert one.port != two.port
        assert two.topics == []
        assert httpx.get(f"{two.url}/topics").json() == {"topics": []}


def test_bad_settings_fail_before_starting() -> None:
    with pytest.raises(ValueError, match="speed must be positive"):
        EmbeddedServer(speed=0)
