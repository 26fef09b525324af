"""A topic made by publishing vanishes when a memory-backend server restarts, and comes back when
its publisher publishes again: followers wait for it, then resume after an `other-run` gap."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from monitor.client.events import Event, Gap, State, StateChange, StreamItem
from monitor.client.stream import WAITING_FOR_TOPIC, SSEStream, StreamConfig, with_topic
from tests.client.rawserver import RawServer, respond, stream
from tests.server.helpers import publish, subscribers, wait_for
from tests.servers import ROOT, ServerProcess

pytestmark = pytest.mark.anyio
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


async def test_a_404_after_live_is_passing_and_before_live_final() -> None:
    handlers = [stream(b"id: a-1\ndata: one\n\n"), respond(NOT_FOUND), respond(NOT_FOUND),
                stream(b"id: b-1\ndata: two\n\n", hold=30)]
    async with RawServer(handlers) as server:
        sse = SSEStream(StreamConfig(server.url, reconnect_delay=0.01))
        items: list[StreamItem] = []
        async with asyncio.timeout(10):
            async for item in sse.items():
                items.append(item)
                if isinstance(item, Event) and item.data == "two":
                    sse.stop("test done")
    waits = [i for i in items if isinstance(i, StateChange) and i.status == 404]
    assert [w.state for w in waits] == [State.RECONNECTING] * 2
    assert all(w.reason.startswith(WAITING_FOR_TOPIC) for w in waits)
    assert waits[1].attempt > waits[0].attempt  # backing off
    assert server.requests[-1].headers["last-event-id"] == b"a-1"

    async with RawServer([respond(NOT_FOUND)]) as server:  # never live: a wrong URL
        final = [i async for i in SSEStream(StreamConfig(server.url)).items()][-1]
    assert isinstance(final, StateChange) and final.state is State.ERROR and final.status == 404


async def test_followers_survive_a_restart_and_get_the_next_event(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory("--no-simulators", "--heartbeat", "0")
    publish(server.url, "agent", "step", {"n": 0})  # the agent's topic, made by publishing
    url = with_topic(f"{server.url}/stream", "agent")
    plain = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "monitor", f"{server.url}/stream", "--topic", "agent", "--plain",
         "--format", "jsonl", "--reconnect-delay", "0.2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    sse = SSEStream(StreamConfig(url, topic="agent", reconnect_delay=0.2))
    items: list[StreamItem] = []

    async def follow() -> None:
        async for item in sse.items():
            items.append(item)

    task = asyncio.create_task(follow())
    try:
        assert plain.stdout is not None and plain.stderr is not None
        await wait_for(lambda: subscribers(server.url, "agent") == 2, within=20)
        first = publish(server.url, "agent", "step", {"n": 1})
        assert json.loads(await asyncio.to_thread(plain.stdout.readline))["id"] == first
        await wait_for(lambda: any(isinstance(i, Event) for i in items), within=10)
        server.restart()  # the memory backend forgets the topic
        await wait_for(lambda: any(isinstance(i, StateChange) and i.status == 404
                                   for i in items), within=20)
        second = publish(server.url, "agent", "step", {"n": 2})
        await wait_for(lambda: any(isinstance(i, Event) and i.id == second for i in items),
                       within=40)
        gap, event = [json.loads(await asyncio.to_thread(plain.stdout.readline))
                      for _ in range(2)]
        assert gap["event"] == "gap" and gap["gap"]["reason"] == "other-run"
        assert event["id"] == second and plain.poll() is None  # it never gave up
    finally:
        sse.stop("test done")
        await task
        plain.terminate()
        _, err = plain.communicate(timeout=10)
    print(err)  # what the user saw, for the log
    assert WAITING_FOR_TOPIC in err and "] error" not in err
    after = [i for i in items if isinstance(i, Gap | Event)]
    assert isinstance(after[1], Gap) and after[1].reason == "other-run"
    assert [i.id for i in after if isinstance(i, Event)] == [first, second]
    assert State.ERROR not in [i.state for i in items if isinstance(i, StateChange)]
