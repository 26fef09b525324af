"""A reader that stops reading is dropped within a bounded time, and its resume loses nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.hardening.test_metrics import scrape, value
from tests.server.helpers import data, open_stream, publish, subscribers, wait_for
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio
Factory = Callable[..., ServerProcess]


async def test_a_stalled_reader_is_dropped_by_the_write_timeout(server_factory: Factory) -> None:
    # The queue could hold all of it: only the write timeout can end this stream.
    server = server_factory("--no-simulators", "--heartbeat", "0", "--backlog", "1000",
                            "--queue-bytes", str(64 << 20), "--max-event-bytes", "200000",
                            "--backlog-bytes", str(16 << 20),
                            "--write-timeout", "1")
    first = publish(server.url, "slow", "e", {"n": 0, "blob": ""})
    async with open_stream(server.url, "slow", first) as reader:
        for n in range(1, 6):
            publish(server.url, "slow", "e", {"n": n, "blob": ""})
        seen = await reader.take(5)
        last_seen = seen[-1].last_event_id
        # from here on the reader reads nothing: ~12 MB fill the socket buffers, writes block
        async with httpx.AsyncClient(base_url=server.url) as client:
            for n in range(6, 126):
                blob = {"event": "e", "data": {"n": n, "blob": "x" * 100_000}}
                answer = await client.post("/topics/slow/events", json=blob)
                assert answer.status_code == 201
        published_at = time.monotonic()
        await wait_for(lambda: subscribers(server.url, "slow") == 0, within=6)
        assert time.monotonic() - published_at < 6
    assert value(scrape(server), "sse_slow_subscriber_drops_total", topic="slow",
                 reason="stalled") == 1

    async with open_stream(server.url, "slow", last_seen) as resumed:
        events = await resumed.take(120, within=20)
    assert [data(event)["n"] for event in events] == list(range(6, 126))  # no gap, no duplicate
    assert all(event.type == "e" for event in events)


async def test_a_capped_send_buffer_drops_a_stalled_reader_by_its_queue(
        server_factory: Factory) -> None:
    # On loopback the kernel's own send buffer would take these 3 MB whole; capped, it cannot.
    server = server_factory("--no-simulators", "--heartbeat", "0", "--queue-bytes", "440000",
                            "--max-event-bytes", "110000", "--write-timeout", "0",
                            "--send-buffer", "65536")
    first = publish(server.url, "capped", "e", {"n": 0, "blob": ""})
    async with open_stream(server.url, "capped", first) as reader:
        publish(server.url, "capped", "e", {"n": 1, "blob": ""})
        await reader.take(1)
        async with httpx.AsyncClient(base_url=server.url) as client:
            for n in range(2, 32):  # from here on the reader reads nothing
                blob = {"event": "e", "data": {"n": n, "blob": "x" * 100_000}}
                assert (await client.post("/topics/capped/events", json=blob)).status_code == 201
        await wait_for(lambda: subscribers(server.url, "capped") == 0, within=5)
    assert value(scrape(server), "sse_slow_subscriber_drops_total", topic="capped",
                 reason="overflow") == 1


def test_a_negative_send_buffer_is_a_usage_error() -> None:
    with pytest.raises(RuntimeError, match="argument --send-buffer"):
        ServerProcess("--send-buffer", "-1").start()
