"""The topic table over a real Redis: start-up over more topics than the limit, eviction and
DELETE removing stream keys, and other instances ending the streams of a deleted topic."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import redis

from tests.hardening.test_topic_table import delete, names, resume
from tests.redis.conftest import RedisServer
from tests.redis.test_scale_out import quiet
from tests.server.helpers import open_stream, publish, subscribers, wait_for
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio
ServerFactory = Callable[..., ServerProcess]


def stream_keys(store: redis.Redis) -> set[str]:
    return {key.removeprefix("sse:") for key in store.scan_iter(match="sse:*", _type="STREAM")}


async def test_an_instance_starts_over_a_store_holding_more_topics_than_its_limit(
        redis_server: RedisServer, server_factory: ServerFactory) -> None:
    store = redis.Redis(port=redis_server.port, decode_responses=True)
    held = {f"t{n}": store.xadd(f"sse:t{n}", {"event": "e", "data": str(n)}) for n in range(10)}

    server = server_factory(*quiet(redis_server, "--max-topics", "5"))  # once exited at start
    assert names(server) == set(held)
    async with open_stream(server.url, "t9", "0-0") as stream:  # every held topic is served
        [event] = await stream.take(1)
        assert (event.last_event_id, event.data) == (held["t9"], "9")
        await wait_for(lambda: subscribers(server.url, "t9") == 1)
        publish(server.url, "new", "e")  # room for it: idle topics give way down to the limit
        assert "new" in names(server) and "t9" in names(server) and len(names(server)) == 5
        assert stream_keys(store) == names(server)  # evicted topics' keys are deleted
    store.close()


async def test_deleting_a_topic_deletes_its_key_and_ends_its_streams_on_every_instance(
        redis_server: RedisServer, server_factory: ServerFactory) -> None:
    store = redis.Redis(port=redis_server.port, decode_responses=True)
    a, b = server_factory(*quiet(redis_server)), server_factory(*quiet(redis_server))
    first = publish(a.url, "jobs", "n", 0)
    async with open_stream(a.url, "jobs", "0-0") as on_a, open_stream(b.url, "jobs",
                                                                        "0-0") as on_b:
        assert [e.last_event_id for e in await on_a.take(1)] == [first]
        assert [e.last_event_id for e in await on_b.take(1)] == [first]
        assert delete(a, "jobs", None).status_code == 204
        assert "jobs" not in stream_keys(store)
        for stream in (on_a, on_b):  # B learns it from Redis, within a blocked read or two
            with pytest.raises(StopAsyncIteration):
                await stream.take(1, within=15)
    for server in (a, b):
        gone = resume(server, "jobs", first)
        assert gone.status_code == 404 and "unknown topic" in gone.json()["error"]
    assert delete(b, "jobs", None).status_code == 404
    fresh = publish(b.url, "jobs", "n", 1)
    async with open_stream(a.url, "jobs", first) as stream:
        gap, event = await stream.take(2)
    assert json.loads(gap.data)["reason"] == "other-run" and event.last_event_id == fresh
    store.close()
