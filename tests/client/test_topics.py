"""Topic discovery from a real server's GET /topics."""

from __future__ import annotations

import pytest

from monitor.client.topics import (
    TopicList,
    TopicsPending,
    TopicsRefused,
    list_topics,
    topics_url,
    wait_for_topics,
)
from tests.servers import ServerProcess, free_port

TOPICS = {"progress", "logs", "tokens"}


def test_topics_url_sits_next_to_the_stream() -> None:
    assert topics_url("http://h:1/base/stream?topic=x") == "http://h:1/base/topics"


@pytest.mark.anyio
async def test_fetch(demo_server: ServerProcess) -> None:
    rows = (await list_topics(f"{demo_server.url}/stream?topic=logs")).rows
    assert {row["name"] for row in rows} == TOPICS


@pytest.mark.anyio
async def test_wait_for_topics(demo_server: ServerProcess) -> None:
    steps = [step async for step in wait_for_topics(f"{demo_server.url}/stream")]
    assert len(steps) == 1 and isinstance(steps[0], TopicList)
    assert set(steps[0].names) == TOPICS and steps[0].left_out == 0


@pytest.mark.anyio
async def test_wait_for_topics_backs_off_while_there_is_no_server() -> None:
    url = f"http://127.0.0.1:{free_port()}/stream"
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    steps = wait_for_topics(url, sleep=sleep, rand=lambda: 1.0)
    pending = [await anext(steps) for _ in range(6)]
    await steps.aclose()
    assert all(isinstance(step, TopicsPending) for step in pending)
    assert [step.delay for step in pending] == [1, 2, 4, 8, 15, 15]
    assert waits == [1, 2, 4, 8, 15]  # it slept after each but the last, still pending
    assert "connection refused (no server at that address yet" in pending[0].reason


@pytest.mark.anyio
async def test_wait_for_topics_without_retry_refuses_at_once() -> None:
    with pytest.raises(TopicsRefused, match="connection refused"):
        async for _step in wait_for_topics(f"http://127.0.0.1:{free_port()}/stream", retry=False):
            pass


@pytest.mark.anyio
async def test_a_stream_url_that_is_not_our_server_is_refused(demo_server: ServerProcess) -> None:
    with pytest.raises(TopicsRefused, match="404 Not Found; not sse-demo-server"):
        async for _step in wait_for_topics(f"{demo_server.url}/healthz/stream"):
            pass
