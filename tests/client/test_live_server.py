"""SSEStream against the real `sse-demo-server`, with faults done for real."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import httpx
import pytest

from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.client.stream import SSEStream, StreamConfig, with_topic
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio
ID = re.compile(r"^([0-9a-f]{8})-(\d+)$")
FAST = ("--heartbeat", "0.2", "--speed", "5", "--retry-ms", "100")


def stream_for(server: ServerProcess, topic: str, **options: object) -> SSEStream:
    url = with_topic(f"{server.url}/stream", topic)
    return SSEStream(StreamConfig(url, topic=topic, **options))  # type: ignore[arg-type]


async def test_server_killed_and_restarted_reports_the_gap_and_goes_on(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory("--seed", "1", *FAST)
    sse = stream_for(server, "progress", reconnect_delay=0.1)
    before: list[Event] = []
    after: list[Event] = []
    gaps: list[Gap] = []
    restarted: asyncio.Task[ServerProcess] | None = None
    async with asyncio.timeout(30):
        async for item in sse.items():
            if isinstance(item, Gap):
                gaps.append(item)
            elif isinstance(item, Event):
                (after if restarted else before).append(item)
                if len(before) == 5 and restarted is None:
                    restarted = asyncio.create_task(asyncio.to_thread(server.restart))  # SIGKILL
                if len(after) == 3:
                    sse.stop()
    assert restarted is not None
    await restarted
    assert [gap.reason for gap in gaps] == ["other-run"]
    last_before = before[-1].id  # events may still arrive until the kill lands
    assert gaps[0].requested == last_before
    old_epoch = ID.match(last_before).group(1)  # type: ignore[union-attr]
    new_ids = [ID.match(event.id) for event in after]
    assert all(match and match.group(1) != old_epoch for match in new_ids)
    assert sse.stats.gaps == 1 and sse.stats.reconnects >= 1


async def test_dropped_connections_lose_and_repeat_nothing(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory("--no-simulators", "--heartbeat", "0.2", "--retry-ms", "50")
    total = 60
    async with httpx.AsyncClient(base_url=server.url) as api:

        async def publish(n: int) -> str:
            answer = await api.post("/topics/numbers/events", json={"event": "n", "data": n})
            answer.raise_for_status()
            return answer.json()["id"]

        first_id = await publish(0)  # creates the topic; the stream resumes after it
        sse = stream_for(server, "numbers", last_event_id=first_id, reconnect_delay=0.05)

        async def publish_all() -> None:
            for n in range(1, total + 1):
                await publish(n)
                if n % 7 == 0:
                    await asyncio.sleep(0.02)  # let some land in one chunk, some while away

        publisher = asyncio.create_task(publish_all())
        received: list[int] = []
        async with asyncio.timeout(30):
            async for item in sse.items():
                if isinstance(item, Event):
                    received.append(int(item.data))
                    if len(received) % 9 == 0:
                        sse.reconnect()  # drop now, between events of one chunk too
                    if received[-1] == total:
                        sse.stop()
        await publisher
    assert received == list(range(1, total + 1))
    assert sse.stats.reconnects >= total // 9 and sse.stats.gaps == 0


async def test_heartbeats_and_states_from_the_real_server(demo_server: ServerProcess) -> None:
    sse = stream_for(demo_server, "logs")
    items: list[StreamItem] = []
    async with asyncio.timeout(15):
        async for item in sse.items():
            items.append(item)
            if sum(isinstance(i, Heartbeat) for i in items) == 3:
                sse.stop()
    beats = [i for i in items if isinstance(i, Heartbeat)]
    assert all(beat.info.get("topic") == "logs" for beat in beats)
    assert sse.heartbeat_interval == pytest.approx(0.5, abs=0.3)
    states = [i.state for i in items if isinstance(i, StateChange)]
    assert states[:2] == [State.CONNECTING, State.LIVE] and states[-1] is State.STOPPED
    assert sse.retry_ms is not None
    assert all(ID.match(i.id) for i in items if isinstance(i, Event))


async def test_unknown_topic_is_an_error_to_act_on(demo_server: ServerProcess) -> None:
    sse = stream_for(demo_server, "no-such-topic")
    async with asyncio.timeout(10):
        items = [item async for item in sse.items()]
    final = items[-1]
    assert isinstance(final, StateChange) and final.state is State.ERROR and final.status == 404
    assert "404 Not Found" in final.reason and "unknown topic" in final.reason
