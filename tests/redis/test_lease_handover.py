"""A busy publisher on Redis stops for sure: on SIGTERM, and before another process takes over."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from itertools import pairwise

import pytest
import redis

from tests.redis.conftest import RedisServer
from tests.redis.test_scale_out import LEASE_KEY, quiet
from tests.server.helpers import wait_for
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio
ServerFactory = Callable[..., ServerProcess]
BUSY = ("--ticker", "3000", "--backlog", "100000")  # a backlog that keeps every tick of a test


def ticker_seqs(store: redis.Redis) -> list[int]:
    return [json.loads(fields["data"])["seq"] for _id, fields in store.xrange("sse:ticker")]


def published_once(seqs: list[int], runs: int) -> bool:
    """Whether `seqs` are `runs` series 1, 2, 3... one after another, never interleaved."""
    return seqs[:1] == [1] and seqs.count(1) == runs and all(
        later in (earlier + 1, 1) for earlier, later in pairwise(seqs))


@pytest.fixture
def store(redis_server: RedisServer, request: pytest.FixtureRequest) -> redis.Redis:
    client = redis.Redis(port=redis_server.port, decode_responses=True)
    request.addfinalizer(client.close)
    return client


def lease_holder(store: redis.Redis) -> int | None:
    token = store.get(LEASE_KEY)
    return int(token.split(":")[1]) if token else None


async def test_a_busy_ticker_stops_promptly_on_sigterm(
        redis_server: RedisServer, server_factory: ServerFactory, store: redis.Redis) -> None:
    server = server_factory(*quiet(redis_server, *BUSY))
    await wait_for(lambda: store.xlen("sse:ticker") >= 1000, within=10)
    assert server.terminate(timeout=10) < 3  # was: never, as redis-py lost the cancel
    assert lease_holder(store) is None  # given up on the way out, not left to expire
    assert published_once(ticker_seqs(store), runs=1)
    assert "Traceback" not in server.output()


async def take_over(servers: list[ServerProcess],
                    store: redis.Redis) -> tuple[ServerProcess, ServerProcess]:
    """Wait until one server holds the lease and ticks; return the other, which does not."""
    pids = {server.proc.pid: server for server in servers if server.proc}
    await wait_for(lambda: lease_holder(store) in pids and store.xlen("sse:ticker") >= 1000,
                   within=10)
    holder = pids.pop(lease_holder(store))
    [other] = pids.values()
    return holder, other


async def test_stopping_the_lease_holder_never_publishes_twice(
        redis_server: RedisServer, server_factory: ServerFactory, store: redis.Redis) -> None:
    servers = [server_factory(*quiet(redis_server, *BUSY)) for _ in range(2)]
    holder, survivor = await take_over(servers, store)
    assert holder.terminate(timeout=10) < 3
    await wait_for(lambda: ticker_seqs(store).count(1) == 2 and ticker_seqs(store)[-1] >= 1000,
                   within=10)
    assert lease_holder(store) == survivor.proc.pid
    assert published_once(ticker_seqs(store), runs=2)
    assert survivor.terminate(timeout=10) < 3


async def test_a_holder_paused_past_its_lease_publishes_no_more(
        redis_server: RedisServer, server_factory: ServerFactory, store: redis.Redis) -> None:
    servers = [server_factory(*quiet(redis_server, *BUSY)) for _ in range(2)]
    holder, other = await take_over(servers, store)
    assert holder.proc is not None
    holder.proc.send_signal(signal.SIGSTOP)  # the lease (3 s) expires while it cannot renew
    try:
        await wait_for(lambda: lease_holder(store) == other.proc.pid, within=10)
        await wait_for(lambda: ticker_seqs(store).count(1) == 2, within=10)
    finally:
        holder.proc.send_signal(signal.SIGCONT)  # it wakes up with thousands of ticks due
    resumed = store.xlen("sse:ticker")
    await wait_for(lambda: store.xlen("sse:ticker") >= resumed + 3000, within=10)
    assert published_once(ticker_seqs(store), runs=2)
    assert holder.proc.poll() is None  # still serving, without the lease
