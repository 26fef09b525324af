"""RedisBackend against a real redis-server: ids, resume, gaps, trimming, follow, outages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from server import wire
from server.backends.base import Entry
from server.backends.redis import RedisBackend, parse_stream_id
from tests.redis.conftest import RedisServer
from tests.sse_reference import parse

pytestmark = pytest.mark.anyio

BackendFactory = Callable[..., RedisBackend]


@pytest.fixture
async def backends(redis_server: RedisServer) -> AsyncIterator[BackendFactory]:
    """Started backends on the test's Redis, each like another server process; closed after."""
    made: list[RedisBackend] = []

    def make(backlog: int = 1000) -> RedisBackend:
        backend = RedisBackend(redis_server.url, backlog, block_seconds=0.5, max_backoff=0.3,
                               lease_seconds=0.6)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.close()


async def started(backend: RedisBackend) -> RedisBackend:
    await backend.start()
    return backend


async def publish(backend: RedisBackend, topic: str, count: int, start: int = 0) -> list[Entry]:
    return [await backend.append(topic, "tick", json.dumps({"n": n}))
            for n in range(start, start + count)]


def numbers(entries: list[Entry]) -> list[int]:
    return [json.loads(parse(entry.frame)[0].data)["n"] for entry in entries]


async def stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true within {seconds}s")


async def test_append_gives_ordered_redis_ids_and_the_encoded_frame(backends: BackendFactory):
    backend = await started(backends())
    entries = await publish(backend, "jobs", 5)
    keys = [backend.order_key(entry.id) for entry in entries]
    assert all(parse_stream_id(entry.id) for entry in entries)
    assert keys == sorted(keys) and len(set(keys)) == 5
    assert entries[2].frame == wire.encode_frame("tick", '{"n": 2}', entries[2].id)
    stats = await backend.stats("jobs")
    assert (stats.newest_id, stats.backlog) == (entries[-1].id, 5)


async def test_append_many_stores_a_batch_in_order_with_or_without_the_lease(
        backends: BackendFactory):
    backend = await started(backends())
    batch = [("tick", json.dumps({"n": n})) for n in range(4)]
    plain = await backend.append_many("jobs", batch)  # the append script, without a lease

    fenced: list[Entry] = []

    async def publish_under_the_lease() -> None:
        fenced.extend(await backend.append_many("jobs", batch))  # the fenced script, once
        await asyncio.Event().wait()

    holder = asyncio.create_task(backend.run_exclusive("publishers", publish_under_the_lease))
    await wait_for(lambda: len(fenced) == 4)
    await stop(holder)
    entries = [*plain, *fenced]
    assert numbers(entries) == [0, 1, 2, 3, 0, 1, 2, 3]
    keys = [backend.order_key(entry.id) for entry in entries]
    assert keys == sorted(keys) and len(set(keys)) == 8
    assert fenced[1].frame == wire.encode_frame("tick", '{"n": 1}', fenced[1].id)
    assert numbers((await backend.replay("jobs", plain[1].id)).entries) == [2, 3, 0, 1, 2, 3]


async def test_replay_after_an_id_gives_exactly_the_rest(backends: BackendFactory):
    writer, reader = await started(backends()), await started(backends())
    entries = await publish(writer, "jobs", 6)
    replay = await reader.replay("jobs", entries[1].id)
    assert replay.gap is None
    assert [entry.id for entry in replay.entries] == [entry.id for entry in entries[2:]]
    assert replay.entries[0].frame == entries[2].frame
    assert (await reader.replay("jobs", entries[-1].id)).entries == []


async def test_trimmed_id_gives_an_evicted_gap_and_a_resume_point_without_second_gap(
        backends: BackendFactory):
    backend = await started(backends(backlog=5))
    entries = await publish(backend, "logs", 400)  # approximate MAXLEN trims whole nodes
    replay = await backend.replay("logs", entries[3].id)
    gap = replay.gap
    assert gap is not None and gap.reason == "evicted" and gap.requested == entries[3].id
    retained = len(replay.entries)
    assert 5 <= retained < 400
    assert numbers(replay.entries) == list(range(400 - retained, 400))
    assert gap.resume_from == replay.entries[0].id
    again = await backend.replay("logs", gap.resume_point)
    assert again.gap is None and again.entries == replay.entries
    from_zero = await backend.replay("logs", "0-0")
    assert from_zero.gap is not None and from_zero.gap.missed == 400 - retained


async def test_ids_that_are_not_of_this_stream_give_gaps(backends: BackendFactory):
    backend = await started(backends())
    a_ids, b_ids = [], []
    for n in range(3):  # apart in time: each stream numbers its ids, so same-ms ids coincide
        a_ids += [entry.id for entry in await publish(backend, "a", 1, n)]
        await asyncio.sleep(0.005)
        b_ids += [entry.id for entry in await publish(backend, "b", 1, n)]
        await asyncio.sleep(0.005)
    cases = {
        "not-an-id": "malformed",
        "3f9a01c2-42": "malformed",
        "99999999999999-0": "ahead",
        b_ids[0]: "other-topic",
        "1-0": "other-run",
    }
    for requested, reason in cases.items():
        replay = await backend.replay("a", requested)
        assert replay.gap is not None and replay.gap.reason == reason, requested
        assert [entry.id for entry in replay.entries] == a_ids
        assert replay.gap.resume_from == a_ids[0] and replay.gap.missed is None
    assert (await backend.replay("a", replay.gap.resume_point)).gap is None


async def test_empty_topic_resumes_from_zero_but_not_from_a_foreign_id(backends: BackendFactory):
    backend = await started(backends())
    assert await backend.replay("none", "0-0") == (await backend.replay("none", "0-0"))
    assert (await backend.replay("none", "0-0")).gap is None
    replay = await backend.replay("none", "1700000000000-0")
    assert replay.gap is not None and replay.gap.reason == "other-run"
    assert replay.gap.resume_from is None and replay.entries == []
    entry = (await publish(backend, "none", 1))[0]
    assert [e.id for e in (await backend.replay("none", replay.gap.resume_point)).entries] == [
        entry.id]


async def test_follow_sees_appends_of_another_process_in_order(backends: BackendFactory):
    subscriber_side, publisher_side = await started(backends()), await started(backends())
    await publish(publisher_side, "jobs", 2)  # before following: not followed
    seen: list[Entry] = []

    async def consume(entries: AsyncIterator[Entry]) -> None:
        async for entry in entries:
            seen.append(entry)

    task = asyncio.create_task(consume(subscriber_side.follow("jobs")))  # follow() called now
    await subscriber_side.replay("jobs", "0-0")  # returns once the follower has its start id
    sent = await publish(publisher_side, "jobs", 20, start=2)
    await wait_for(lambda: len(seen) >= 20)
    await stop(task)
    assert [entry.id for entry in seen] == [entry.id for entry in sent]
    assert numbers(seen) == list(range(2, 22))


async def test_follow_ends_when_redis_fails_and_a_new_one_waits_for_it(
        redis_server: RedisServer, backends: BackendFactory):
    follower_side, publisher_side = await started(backends()), await started(backends())
    seen: list[Entry] = []
    ended: list[BaseException] = []

    async def consume(entries: AsyncIterator[Entry]) -> None:
        try:
            async for entry in entries:
                seen.append(entry)
        except ConnectionError as exc:
            ended.append(exc)

    first = asyncio.create_task(consume(follower_side.follow("jobs")))
    await follower_side.replay("jobs", "0-0")
    await publish(publisher_side, "jobs", 3)
    await wait_for(lambda: len(seen) == 3)
    assert follower_side.health() is None

    redis_server.stop()
    await wait_for(lambda: bool(ended))
    await first
    assert "unavailable" in (follower_side.health() or "")
    with pytest.raises(ConnectionError, match=r"Redis at redis://127\.0\.0\.1"):
        await publisher_side.append("jobs", "tick", "{}")

    second = asyncio.create_task(consume(follower_side.follow("jobs")))  # while Redis is down
    redis_server.start()
    await wait_for(lambda: follower_side.health() is None)
    replay = await follower_side.replay("jobs", seen[-1].id)
    assert replay.gap is not None and replay.gap.reason == "other-run"  # Redis lost the stream
    await publish(publisher_side, "jobs", 2, start=3)
    await wait_for(lambda: len(seen) == 5)
    await stop(second)
    assert numbers(seen) == [0, 1, 2, 3, 4]


async def test_run_exclusive_runs_work_in_one_process_and_hands_over(backends: BackendFactory):
    running: list[str] = []

    def work(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            running.append(name)
            try:
                await asyncio.Event().wait()
            finally:
                running.remove(name)
        return run

    one, two = await started(backends()), await started(backends())
    tasks = {"one": asyncio.create_task(one.run_exclusive("sims", work("one"))),
             "two": asyncio.create_task(two.run_exclusive("sims", work("two")))}
    await wait_for(lambda: len(running) == 1)
    await asyncio.sleep(1.0)  # renewed past its lease time, and still alone
    assert len(running) == 1
    holder = running[0]
    await stop(tasks[holder])
    await wait_for(lambda: running == [next(name for name in tasks if name != holder)])
    await stop(*tasks.values())


async def test_run_exclusive_restarts_work_after_a_redis_restart(
        redis_server: RedisServer, backends: BackendFactory):
    starts = 0

    async def work() -> None:
        nonlocal starts
        starts += 1
        await asyncio.Event().wait()

    backend = await started(backends())
    task = asyncio.create_task(backend.run_exclusive("sims", work))
    await wait_for(lambda: starts == 1)
    redis_server.restart()
    await wait_for(lambda: starts == 2, seconds=15)
    await stop(task)


async def test_topics_lists_every_process_streams(backends: BackendFactory):
    one, two = await started(backends()), await started(backends())
    await publish(one, "alpha", 1)
    await publish(two, "beta", 1)
    assert await one.topics() == ["alpha", "beta"]
    assert (await one.stats("gamma")).newest_id is None
