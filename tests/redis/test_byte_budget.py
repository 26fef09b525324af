"""A topic in Redis is bounded in bytes, by whichever process appends, and replays page by page."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from server.backends.base import Entry
from server.backends.redis import RedisBackend
from tests.redis.conftest import RedisServer
from tests.sse_reference import parse

pytestmark = pytest.mark.anyio
MiB = 1 << 20
BLOB = 100_000
BUDGET = MiB


@pytest.fixture
async def backend(redis_server: RedisServer) -> AsyncIterator[RedisBackend]:
    made = RedisBackend(redis_server.url, 1000, backlog_bytes=BUDGET, block_seconds=0.5,
                        max_backoff=0.3, lease_seconds=0.6)
    await made.start()
    yield made
    await made.close()


def blob(n: int) -> tuple[str, str]:
    return "blob", json.dumps({"n": n, "blob": "x" * BLOB})


def numbers(entries: list[Entry]) -> list[int]:
    return [json.loads(parse(entry.frame)[0].data)["n"] for entry in entries]


async def redis_memory(redis_server: RedisServer, key: str) -> int:
    """What Redis itself says the stream takes, every node counted."""
    async with Redis.from_url(redis_server.url) as client:
        return int(await client.memory_usage(key, samples=0) or 0)


async def held(backend: RedisBackend, work: Callable[[], Awaitable[object]]) -> None:
    """Run `work` under the exclusive lease (the simulators' fenced appends), once."""
    done = asyncio.Event()

    async def run() -> None:
        await work()
        done.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(backend.run_exclusive("publishers", run))
    await asyncio.wait_for(done.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_stream_keeps_within_its_byte_budget_plain_or_fenced(
        backend: RedisBackend, redis_server: RedisServer) -> None:
    first = [await backend.append("big", *blob(n)) for n in range(30)]  # 3 MB, 1 MiB budget
    await held(backend, lambda: backend.append_many("big", [blob(n) for n in range(30, 60)]))
    retained = (await backend.stats("big")).backlog
    assert BUDGET - 2 * BLOB < retained * BLOB <= BUDGET
    stored = await redis_memory(redis_server, "sse:big")
    print(f"Redis memory of a stream with a {BUDGET >> 10} KiB budget after 6 MB: "
          f"{stored >> 10} KiB")
    assert stored < 1.5 * BUDGET
    replay = await backend.replay("big", first[0].id, 250_000)  # pages of two events
    assert replay.gap is not None and replay.gap.reason == "evicted"
    assert numbers(replay.entries) == [60 - retained, 61 - retained] and not replay.complete
    entries = list(replay.entries)
    while (page := await backend.replay_page("big", entries[-1].id, 250_000)) is not None:
        entries += page.entries
        if page.complete:
            break
    assert numbers(entries) == list(range(60 - retained, 60))


async def test_a_page_whose_cursor_was_trimmed_says_so(backend: RedisBackend) -> None:
    entries = [await backend.append("moving", *blob(n)) for n in range(5)]
    page = await backend.replay_page("moving", entries[0].id, 250_000)
    assert page is not None and numbers(page.entries) == [1, 2]
    for n in range(5, 15):  # trims the first five
        await backend.append("moving", *blob(n))
    assert await backend.replay_page("moving", entries[2].id, 250_000) is None
