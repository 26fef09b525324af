"""Topic discovery from a real server's GET /topics."""

from __future__ import annotations

import pytest

from monitor.client.topics import TopicList, discover_topics, fetch_topics, topics_url
from tests.servers import ServerProcess, free_port

TOPICS = {"progress", "logs", "tokens"}


def test_topics_url_sits_next_to_the_stream() -> None:
    assert topics_url("http://h:1/base/stream?topic=x") == "http://h:1/base/topics"


@pytest.mark.anyio
async def test_fetch(demo_server: ServerProcess) -> None:
    rows = await fetch_topics(f"{demo_server.url}/stream?topic=logs")
    assert {row["name"] for row in rows} == TOPICS


def test_discover(demo_server: ServerProcess) -> None:  # blocking, as the CLI calls it
    found = discover_topics(f"{demo_server.url}/stream")
    assert set(found.names) == TOPICS and found.left_out == 0


def test_discover_without_a_server_is_empty() -> None:
    assert discover_topics(f"http://127.0.0.1:{free_port()}/stream") == TopicList([])
