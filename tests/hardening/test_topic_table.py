"""The topic table never jams: idle topics give way to new ones, and topics can be deleted."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from bench.procs import rss_bytes
from tests.hardening.test_metrics import scrape, value
from tests.server.helpers import open_stream, publish, subscribers, wait_for
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio
Factory = Callable[..., ServerProcess]
WRITE = "write-token-5d0b"
SIMULATED = {"progress", "logs", "tokens"}


def names(server: ServerProcess) -> set[str]:
    return {row["name"] for row in httpx.get(f"{server.url}/topics").json()["topics"]}


def post(server: ServerProcess, topic: str, token: str | None = WRITE) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{server.url}/topics/{topic}/events", json={"event": "e"}, headers=headers)


def delete(server: ServerProcess, topic: str, token: str | None = WRITE) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.delete(f"{server.url}/topics/{topic}", headers=headers)


def resume(server: ServerProcess, topic: str, last_id: str) -> httpx.Response:
    """The answer to a resume when it is not a stream (an error)."""
    return httpx.get(f"{server.url}/stream", params={"topic": topic},
                     headers={"Last-Event-ID": last_id})


async def test_a_full_table_gives_way_to_the_least_recently_used_idle_topic(
        server_factory: Factory) -> None:
    server = server_factory("--max-topics", "6", "--speed", "0.2", "--heartbeat", "0.2")
    assert names(server) == SIMULATED
    for topic in ("a", "b", "c", "b"):  # b used after c: c is the least recently used
        publish(server.url, topic, "e")
    async with open_stream(server.url, "a"):  # a followed, though used before both
        await wait_for(lambda: subscribers(server.url, "a") == 1)
        publish(server.url, "d", "e")
        assert names(server) == SIMULATED | {"a", "b", "d"}
        publish(server.url, "e", "e")
        assert names(server) == SIMULATED | {"a", "d", "e"}
        assert value(scrape(server), "sse_topics_evicted_total") == 2
        async with open_stream(server.url, "d"), open_stream(server.url, "e"):
            await wait_for(lambda: subscribers(server.url, "e") == 1)
            refused = post(server, "f", None)
            assert refused.status_code == 409
            assert "every one is in use" in refused.json()["error"]
    assert names(server) == SIMULATED | {"a", "d", "e"}
    await wait_for(lambda: subscribers(server.url, "a") == 0)
    publish(server.url, "f", "e")  # the streams ended: a topic gives way again
    assert len(names(server)) == 6 and "f" in names(server)


async def test_a_publisher_deletes_a_topic_and_its_streams_end(server_factory: Factory) -> None:
    server = server_factory("--publish-token", WRITE, "--speed", "0.2", "--heartbeat", "0.2")
    first = post(server, "jobs").json()["id"]
    assert post(server, "jobs").status_code == 201

    for token in (None, "wrong-token"):
        refused = delete(server, "jobs", token)
        assert refused.status_code == 401 and "error" in refused.json()
        assert refused.headers["www-authenticate"].startswith("Bearer")
    unknown = delete(server, "nosuch")
    assert unknown.status_code == 404 and "unknown topic" in unknown.json()["error"]
    simulated = delete(server, "progress")
    assert simulated.status_code == 409 and "cannot be deleted" in simulated.json()["error"]
    assert delete(server, "bad name!").status_code in (400, 404)

    async with open_stream(server.url, "jobs", first) as stream:
        [replayed] = await stream.take(1)
        deleted = delete(server, "jobs")
        assert deleted.status_code == 204 and deleted.content == b""
        with pytest.raises(StopAsyncIteration):  # ended cleanly, not reset
            await stream.take(1, within=10)
    assert "jobs" not in names(server) and "progress" in names(server)
    gone = resume(server, "jobs", replayed.last_event_id)
    assert gone.status_code == 404 and "unknown topic" in gone.json()["error"]
    assert delete(server, "jobs").status_code == 404

    fresh = post(server, "jobs").json()["id"]  # the name is free again: a new run of it
    async with open_stream(server.url, "jobs", replayed.last_event_id) as stream:
        gap, event = await stream.take(2)
    assert gap.type == "gap" and json.loads(gap.data)["reason"] == "other-run"
    assert event.last_event_id == fresh


def test_topic_churn_keeps_the_table_and_the_memory_bounded(server_factory: Factory) -> None:
    server = server_factory("--no-simulators", "--max-topics", "10", "--publish-rate", "0",
                            "--heartbeat", "0")
    assert server.proc is not None
    event = {"event": "e", "data": "x" * 20_000}

    def churn(topics: range) -> None:
        with httpx.Client(base_url=server.url) as client:
            for n in topics:
                made = client.post(f"/topics/churn-{n}/events", json=event)
                assert made.status_code == 201, made.text

    churn(range(500))
    before = rss_bytes(server.proc.pid)
    churn(range(500, 2500))  # 40 MB of events in topics nobody reads
    after = rss_bytes(server.proc.pid)
    print(f"server RSS {before / 2**20:.1f} MiB after 500 topics, {after / 2**20:.1f} MiB "
          "after 2,500 (10 held)")
    assert names(server) == {f"churn-{n}" for n in range(2490, 2500)}
    assert value(scrape(server), "sse_topics_evicted_total") == 2490
    assert after - before < 10 * 2**20  # evicted topics' events are freed, not only unlisted
