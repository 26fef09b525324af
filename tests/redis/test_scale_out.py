"""Several `sse-demo-server` processes on one real Redis: resume anywhere, publish once, outages."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
import redis

from server.simulators import TIME_FIELDS, steps_for
from tests.redis.conftest import RedisServer
from tests.server.helpers import data, open_stream, publish, wait_for
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio
ServerFactory = Callable[..., ServerProcess]
LEASE_KEY = "sse:lease:publishers"


def quiet(redis_server: RedisServer, *more: str) -> tuple[str, ...]:
    """Server flags: this Redis, no simulators, quick heartbeats."""
    return ("--backend", redis_server.url, "--no-simulators", "--heartbeat", "0.2", *more)


def publish_numbers(server: ServerProcess, topic: str, numbers: range) -> list[str]:
    return [publish(server.url, topic, "n", n) for n in numbers]


async def test_resume_on_another_instance_gives_exactly_the_missed_events(
        redis_server: RedisServer, server_factory: ServerFactory) -> None:
    a, b = server_factory(*quiet(redis_server)), server_factory(*quiet(redis_server))
    first = publish_numbers(b, "jobs", range(1))
    async with open_stream(a.url, "jobs", first[0]) as stream:
        live = publish_numbers(b, "jobs", range(1, 6))  # published on B, read on A
        received = await stream.take(5)
        a.kill()  # while the client is connected
    assert [e.last_event_id for e in received] == live
    missed = publish_numbers(b, "jobs", range(6, 11))
    async with open_stream(b.url, "jobs", received[-1].last_event_id) as stream:
        replayed = await stream.take(5)
        newer = publish_numbers(b, "jobs", range(11, 12))
        replayed += await stream.take(1)
    assert [e.type for e in replayed] == ["n"] * 6  # no gap
    assert [e.last_event_id for e in replayed] == missed + newer
    assert [data(e) for e in replayed] == list(range(6, 12))


async def test_restarting_the_only_server_loses_nothing(
        redis_server: RedisServer, server_factory: ServerFactory) -> None:
    server = server_factory(*quiet(redis_server))
    seen = publish_numbers(server, "jobs", range(3))
    server.restart()
    after = publish_numbers(server, "jobs", range(3, 5))
    async with open_stream(server.url, "jobs", seen[-1]) as stream:
        events = await stream.take(2)
    assert [(e.type, e.last_event_id) for e in events] == [("n", i) for i in after]


async def test_a_trimmed_id_gives_a_gap_whose_id_resumes_without_another(
        redis_server: RedisServer, server_factory: ServerFactory) -> None:
    server = server_factory(*quiet(redis_server, "--backlog", "5"))
    async with httpx.AsyncClient(base_url=server.url) as client:  # ~ trims nodes of ~100
        ids = [(await client.post("/topics/jobs/events", json={"event": "n", "data": n})
                ).json()["id"] for n in range(300)]
    async with open_stream(server.url, "jobs", ids[0]) as stream:
        gap, first = await stream.take(2)
    info = json.loads(gap.data)
    assert gap.type == "gap" and info["reason"] == "evicted" and info["requested"] == ids[0]
    assert first.last_event_id == info["resume_from"] and first.last_event_id in ids[5:]
    assert ids.index(first.last_event_id) > 1
    async with open_stream(server.url, "jobs", gap.last_event_id) as stream:
        again = await stream.take(1)
    assert [(e.type, e.last_event_id) for e in again] == [("n", first.last_event_id)]


def published_once(events: list, topic: str, seed: int) -> bool:
    """Whether `events` are the simulator's seeded sequence from its start, each once."""
    expected = steps_for(topic, seed)
    for event in events:
        _delay, name, fields = next(expected)
        got = {k: v for k, v in json.loads(event.data).items() if k not in TIME_FIELDS}
        if (event.type, got) != (name, fields):
            return False
    return True


async def test_simulators_publish_once_with_two_workers(
        redis_server: RedisServer) -> None:
    server = ServerProcess("--backend", redis_server.url, "--workers", "2", "--seed", "3",
                           "--speed", "20", "--heartbeat", "0")
    server.start()
    try:
        with redis.Redis(port=redis_server.port) as store:
            await wait_for(lambda: store.xlen("sse:logs") >= 30, within=15)
        async with open_stream(server.url, "logs", "0-0") as stream:  # from the beginning
            events = await stream.take(30)
        assert published_once(events, "logs", 3)
    finally:
        server.terminate()  # SIGTERM: uvicorn stops its workers too


async def test_the_lease_moves_when_its_holder_dies(
        redis_server: RedisServer, server_factory: ServerFactory,
        request: pytest.FixtureRequest) -> None:
    servers = [server_factory(*quiet(redis_server, "--ticker", "20")) for _ in range(2)]
    store = redis.Redis(port=redis_server.port, decode_responses=True)
    request.addfinalizer(store.close)

    def holder() -> int | None:
        token = store.get(LEASE_KEY)
        return int(token.split(":")[1]) if token else None

    pids = {server.proc.pid: server for server in servers if server.proc}
    await wait_for(lambda: holder() in pids, within=10)
    dead = pids.pop(holder())
    dead.kill()
    [survivor] = pids.values()
    await wait_for(lambda: holder() == survivor.proc.pid, within=10)
    async with open_stream(survivor.url, "ticker") as stream:
        ticks = await stream.take(3)
    assert [e.type for e in ticks] == ["tick"] * 3


async def test_the_server_rides_out_a_redis_restart(
        redis_server: RedisServer, server_factory: ServerFactory) -> None:
    server = server_factory(*quiet(redis_server))
    ids = publish_numbers(server, "jobs", range(2))
    async with open_stream(server.url, "jobs", ids[0]) as stream:
        [replayed] = await stream.take(1)
        redis_server.stop()
        with pytest.raises((StopAsyncIteration, httpx.HTTPError)):
            await stream.take(1, within=10)  # the stream ends, so the client will resume
    async with httpx.AsyncClient(base_url=server.url) as client:
        health = await client.get("/healthz")
        refused = await client.post("/topics/jobs/events", json={"event": "n", "data": 2})
        live = await client.get("/stream", params={"topic": "jobs"})
    assert health.status_code == 503 and "unavailable" in health.json()["error"]
    assert refused.status_code == 503 and "Redis" in refused.json()["error"]
    assert live.status_code == 503 and live.json()["error"] == health.json()["error"]
    assert server.proc is not None and server.proc.poll() is None

    redis_server.start()
    await wait_for(lambda: httpx.get(f"{server.url}/healthz").status_code == 200, within=10)
    fresh = publish_numbers(server, "jobs", range(2, 4))
    async with open_stream(server.url, "jobs", replayed.last_event_id) as stream:
        gap, *events = await stream.take(3)
    assert json.loads(gap.data)["reason"] == "other-run"  # this Redis kept nothing on disk
    assert [e.last_event_id for e in events] == fresh
    assert server.proc.poll() is None  # the same process throughout
    server.terminate()
    log = server.output()
    assert "is unavailable" in log and "reachable again" in log and "Traceback" not in log
