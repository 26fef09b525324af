"""The stream process (`monitor.client.process`): the same items as SSEStream, through real
faults of its own (the process killed, a process that cannot start) and of the server."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import marshal
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from unittest.mock import patch

import httpx
import pytest

import monitor.client.process.remote as remote_module
from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.client.process import RemoteStream, StreamProcess
from monitor.client.process.frames import (
    FrameError,
    decode_config,
    decode_item,
    encode_config,
    encode_item,
    pack,
    read_frame,
)
from monitor.client.process.worker import MAX_BATCH, PIPE_SIZE
from monitor.client.stream import SSEStream, StreamConfig, with_topic
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio
QUIET = ("--no-simulators", "--heartbeat", "0.2", "--retry-ms", "50")


@pytest.fixture
async def hub() -> AsyncIterator[StreamProcess]:
    hub = StreamProcess()
    yield hub
    await hub.aclose()


def config_for(server: ServerProcess, topic: str, **options: object) -> StreamConfig:
    return StreamConfig(with_topic(f"{server.url}/stream", topic), topic=topic,
                        **options)  # type: ignore[arg-type]


async def publish(api: httpx.AsyncClient, topic: str, n: int) -> str:
    answer = await api.post(f"/topics/{topic}/events", json={"event": "n", "data": n})
    answer.raise_for_status()
    return answer.json()["id"]


def numbers(items: list[StreamItem]) -> list[int]:
    return [int(item.data) for item in items if isinstance(item, Event)]


def states(items: list[StreamItem]) -> list[State]:
    return [item.state for item in items if isinstance(item, StateChange)]


class LoopTurns:
    """Counts the event loop's turns: at each, a timer or a key press could have run."""

    def __init__(self) -> None:
        self.turns = 0

    async def count(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)


# -- frames ---------------------------------------------------------------------------------------

ITEMS: list[StreamItem] = [
    Event("token", '{"text": "hé"}', "run-7", 12.5, "event: token\ndata: {...}", 3000),
    Event("message", "", "", 0.0),
    Heartbeat('{"topic": "t"}', 1.0, {"topic": "t", "n": [1, 2.5, None, True]}, "event: heartbeat"),
    Gap("run-1", "evicted", "the backlog had moved on", "run-9", 8, 2.0, "run-9", "raw", "{}"),
    Gap(None, "malformed", "", None, None, 3.0),
    StateChange(State.RECONNECTING, 4.0, "connection lost", attempt=2, delay=1.5, status=503),
    StateChange(State.LIVE, 5.0, status=200),
]


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: type(item).__name__)
def test_every_item_crosses_the_pipe_unchanged(item: StreamItem) -> None:
    crossed = decode_item(marshal.loads(marshal.dumps(encode_item(item))))
    assert crossed == item and type(crossed) is type(item)
    if isinstance(crossed, StateChange):
        assert crossed.state is item.state  # the enum member, not its string


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: type(item).__name__)
def test_an_item_decoded_with_a_time_has_that_time_and_nothing_else_changed(
    item: StreamItem,
) -> None:
    crossed = decode_item(encode_item(item), received=99.5)
    if isinstance(item, StateChange):  # a change of state keeps the time it happened
        assert crossed == item
    else:
        assert crossed == replace(item, received=99.5) and type(crossed) is type(item)


@pytest.mark.parametrize(("data", "parsed"), [('{"a": [1, 2.5, null]}', {"a": [1, 2.5, None]}),
                                             ("not json", None)])
def test_an_event_crosses_with_its_json_parsed_so_the_app_need_not(data: str,
                                                                   parsed: object) -> None:
    crossed = decode_item(marshal.loads(marshal.dumps(encode_item(Event("message", data, "1",
                                                                          0.0)))))
    assert isinstance(crossed, Event) and crossed.parsed == parsed
    with patch("json.loads", side_effect=AssertionError("parsed again in the app")):
        assert crossed.json() == parsed


def test_a_config_crosses_without_its_clock() -> None:
    config = StreamConfig("http://h/stream?topic=a", topic="a", headers={"X-K": "v"},
                          last_event_id="r-3", reconnect=False, watchdog=2.0, clock=lambda: 1.0)
    crossed = decode_config(encode_config(config))
    assert crossed.headers == {"X-K": "v"} and crossed.last_event_id == "r-3"
    assert not crossed.reconnect and crossed.watchdog == 2.0 and crossed.topic == "a"
    assert crossed.clock is not config.clock


async def frames_from(data: bytes) -> list[object]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    messages = []
    while (message := await read_frame(reader)) is not None:
        messages.append(message)
    return messages


async def test_frames_are_read_back_in_order() -> None:
    assert await frames_from(pack([1, "a"]) + pack(("b", None))) == [[1, "a"], ("b", None)]


@pytest.mark.parametrize("data", [
    pack("whole")[:-1],  # cut inside a frame
    pack("whole")[:2],  # cut inside a header
    b"\xff\xff\xff\xff" + b"x" * 10,  # a length no frame has
    b"\x00\x00\x00\x02" + b"\xff\xff",  # not marshal
], ids=["cut-frame", "cut-header", "huge-length", "garbage"])
async def test_a_broken_pipe_is_a_frame_error(data: bytes) -> None:
    with pytest.raises(FrameError):
        await frames_from(data)


# -- streams through the process ------------------------------------------------------------------

def test_a_stream_with_its_own_clock_is_read_here() -> None:
    hub = StreamProcess()
    own_clock = StreamConfig("http://h/stream", clock=lambda: 0.0)
    assert isinstance(hub.source(own_clock), SSEStream)
    assert isinstance(hub.source(StreamConfig("http://h/stream")), RemoteStream)


def pipe_sizes(pid: int) -> dict[str, int]:
    """The size of every pipe process `pid` holds, by its name in /proc (`pipe:[inode]`)."""
    sizes = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        path = f"/proc/{pid}/fd/{fd}"
        with contextlib.suppress(FileNotFoundError):
            if (name := os.readlink(path)).startswith("pipe:"):
                pipe = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # the same pipe, not a copy
                try:
                    sizes[name] = fcntl.fcntl(pipe, fcntl.F_GETPIPE_SZ)
                finally:
                    os.close(pipe)
    return sizes


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="pipe sizes are Linux's")
async def test_the_pipe_from_the_process_holds_a_megabyte_not_the_default_64_kib(
    server_factory: Callable[..., ServerProcess], hub: StreamProcess,
) -> None:
    stream = hub.source(config_for(server_factory(*QUIET), "numbers"))
    async with asyncio.timeout(15):
        async for item in stream.items():
            if isinstance(item, StateChange) and item.state is State.LIVE:  # it has set up
                stream.stop("enough")
    assert hub.pid is not None
    # stdin, stderr and the frames' pipe (it keeps fd 1 for stray prints): only the last is set
    assert PIPE_SIZE in pipe_sizes(hub.pid).values()


async def test_reconnects_through_the_process_lose_and_repeat_nothing(
    server_factory: Callable[..., ServerProcess], hub: StreamProcess,
) -> None:
    server = server_factory(*QUIET)
    total = 60
    async with httpx.AsyncClient(base_url=server.url) as api:
        first_id = await publish(api, "numbers", 0)
        stream = hub.source(config_for(server, "numbers", last_event_id=first_id,
                                       reconnect_delay=0.05))

        async def publish_all() -> None:
            for n in range(1, total + 1):
                await publish(api, "numbers", n)
                await asyncio.sleep(0.01 if n % 7 else 0.05)  # some in one read, some apart

        publisher = asyncio.create_task(publish_all())
        items: list[StreamItem] = []
        async with asyncio.timeout(30):
            async for item in stream.items():
                items.append(item)
                received = numbers(items)
                if isinstance(item, Event) and len(received) % 9 == 0:
                    stream.reconnect()
                if received and received[-1] == total:
                    stream.stop("enough")
        await publisher
    assert numbers(items) == list(range(1, total + 1))
    assert states(items)[-1] is State.STOPPED and items[-1].reason == "enough"  # type: ignore[union-attr]
    # A reconnect() reaches the other process a moment later, when more may be on the way.
    assert states(items).count(State.RECONNECTING) >= 3


async def test_the_process_killed_is_restarted_and_resumes_without_loss(
    server_factory: Callable[..., ServerProcess], hub: StreamProcess,
) -> None:
    server = server_factory(*QUIET)
    async with httpx.AsyncClient(base_url=server.url) as api:
        await publish(api, "numbers", 0)
        stream = hub.source(config_for(server, "numbers"))
        items: list[StreamItem] = []
        killed: list[int] = []
        sent = 0

        async def publish_steadily() -> None:
            nonlocal sent
            while True:
                sent += 1
                await publish(api, "numbers", sent)
                await asyncio.sleep(0.01)

        async with asyncio.timeout(30):
            publisher: asyncio.Task[None] | None = None
            async for item in stream.items():
                items.append(item)
                live = isinstance(item, StateChange) and item.state is State.LIVE
                if live and publisher is None:
                    publisher = asyncio.create_task(publish_steadily())
                received = numbers(items)
                if len(received) == 20 and not killed:
                    assert hub.pid is not None
                    killed.append(hub.pid)
                    os.kill(hub.pid, signal.SIGKILL)  # the fault, for real
                if len(received) >= 60:
                    stream.stop()
            assert publisher is not None
            publisher.cancel()
    restart = next(item for item in items if isinstance(item, StateChange)
                   and item.state is State.RECONNECTING)
    assert "stream process ended (killed by SIGKILL)" in restart.reason
    received = numbers(items)
    assert received == list(range(1, len(received) + 1))  # resumed: nothing lost, nothing twice
    resumed = [item for item in items if isinstance(item, StateChange)
               and item.state is State.CONNECTING][1]
    assert resumed.reason.startswith("resuming after ")
    assert hub.pid not in (None, *killed)


async def test_two_streams_share_one_process_and_keep_their_topics(
    server_factory: Callable[..., ServerProcess], hub: StreamProcess,
) -> None:
    server = server_factory(*QUIET)
    async with httpx.AsyncClient(base_url=server.url) as api:
        for topic in ("a", "b"):
            await publish(api, topic, 0)
        streams = {topic: hub.source(config_for(server, topic)) for topic in ("a", "b")}
        seen: dict[str, list[StreamItem]] = {"a": [], "b": []}
        pids: set[int | None] = set()
        live = {topic: asyncio.Event() for topic in streams}

        async def follow(topic: str) -> None:
            async for item in streams[topic].items():
                seen[topic].append(item)
                pids.add(hub.pid)
                if isinstance(item, StateChange) and item.state is State.LIVE:
                    live[topic].set()
                if numbers(seen[topic])[-1:] == [3]:
                    streams[topic].stop()

        async with asyncio.timeout(20):
            followers = [asyncio.create_task(follow(topic)) for topic in streams]
            for went_live in live.values():
                await went_live.wait()
            for n in (1, 2, 3):
                await publish(api, "a", n)
                await publish(api, "b", n * 10 if n < 3 else 3)
            await asyncio.gather(*followers)
    assert numbers(seen["a"]) == [1, 2, 3] and numbers(seen["b"]) == [10, 20, 3]
    assert len(pids) == 1 and None not in pids


async def test_a_slow_reader_holds_the_pipe_and_still_gets_everything(
    server_factory: Callable[..., ServerProcess], hub: StreamProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(remote_module, "MAX_QUEUED", 8)  # stops reading the pipe early
    waits = 0
    room = RemoteStream.room

    async def counted_room(self: RemoteStream) -> None:
        nonlocal waits
        waits += 1
        await room(self)

    monkeypatch.setattr(RemoteStream, "room", counted_room)
    server = server_factory(*QUIET)
    total = 80
    async with httpx.AsyncClient(base_url=server.url) as api:
        first_id = await publish(api, "numbers", 0)
        for n in range(1, total + 1):
            await publish(api, "numbers", n)
    stream = hub.source(config_for(server, "numbers", last_event_id=first_id))
    received: list[int] = []
    async with asyncio.timeout(20):
        async for item in stream.items():
            if isinstance(item, Event):
                received.append(int(item.data))
                await asyncio.sleep(0.005)  # slower than the backlog arrives
                if received[-1] == total:
                    stream.stop()
    assert received == list(range(1, total + 1))
    assert waits  # the hub did wait for this reader


async def test_items_are_timed_when_their_reader_takes_them(
    server_factory: Callable[..., ServerProcess], hub: StreamProcess,
) -> None:
    server = server_factory(*QUIET)
    times: list[tuple[float, float]] = []  # (received, when this reader took it)
    async with httpx.AsyncClient(base_url=server.url) as api:
        first_id = await publish(api, "numbers", 0)
        await publish(api, "numbers", 1)
        stream = hub.source(config_for(server, "numbers", last_event_id=first_id))
        async with asyncio.timeout(20):
            async for item in stream.items():
                if not isinstance(item, Event):
                    continue
                times.append((item.received, time.time()))
                if item.data == "1":  # the rest arrive while this reader is busy
                    for n in range(2, 6):
                        await publish(api, "numbers", n)
                    await asyncio.sleep(0.5)
                    resumed = time.time()
                if item.data == "5":
                    stream.stop()
    assert len(times) == 5
    # Read by the process long before: a pane behind shows it in its latency
    assert all(resumed <= received <= taken for received, taken in times[1:])


async def test_a_reader_behind_by_several_batches_lets_the_loop_run_between_them(
    server_factory: Callable[..., ServerProcess], hub: StreamProcess,
) -> None:
    server = server_factory(*QUIET)
    turns = LoopTurns()
    ticker = asyncio.create_task(turns.count())
    seen_at: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=server.url) as api, asyncio.timeout(20):
        stream = hub.source(config_for(server, "numbers",
                                       last_event_id=await publish(api, "numbers", 0)))
        async for item in stream.items():
            if isinstance(item, StateChange) and item.state is State.LIVE:
                await publish(api, "numbers", 1)
            if not isinstance(item, Event):
                continue
            if int(item.data) == 1:  # while this reader is busy, five batches queue up
                for n in range(2, 7):
                    await publish(api, "numbers", n)
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
            seen_at[int(item.data)] = turns.turns  # no await here: only the stream can yield
            if int(item.data) == 6:
                stream.stop()
    ticker.cancel()
    assert sorted(seen_at) == [1, 2, 3, 4, 5, 6]
    assert len({seen_at[n] for n in range(2, 7)}) == 5  # the loop ran between every two batches


async def test_a_long_backlog_comes_in_batches_and_the_loop_runs_between_them(
    server_factory: Callable[..., ServerProcess], hub: StreamProcess,
) -> None:
    server = server_factory(*QUIET)
    count = 2 * MAX_BATCH + 50  # replayed at once: the process reads them in one or two chunks
    turns = LoopTurns()
    taken_at: list[int] = []  # the loop's turn in which each event was taken
    async with httpx.AsyncClient(base_url=server.url) as api, asyncio.timeout(30):
        first_id = await publish(api, "numbers", 0)
        for n in range(1, count + 1):
            await publish(api, "numbers", n)
        ticker = asyncio.create_task(turns.count())
        stream = hub.source(config_for(server, "numbers", last_event_id=first_id))
        async for item in stream.items():
            if isinstance(item, Event):
                taken_at.append(turns.turns)  # no await here: only the stream can yield
                if int(item.data) == count:
                    stream.stop()
    ticker.cancel()
    assert len(taken_at) == count
    assert max(Counter(taken_at).values()) <= MAX_BATCH


async def test_server_errors_pass_through_unchanged(
    demo_server: ServerProcess, hub: StreamProcess,
) -> None:
    stream = hub.source(config_for(demo_server, "no-such-topic"))
    async with asyncio.timeout(10):
        items = [item async for item in stream.items()]
    final = items[-1]
    assert isinstance(final, StateChange) and final.state is State.ERROR and final.status == 404
    assert "unknown topic" in final.reason


async def test_a_stop_before_reading_starts_nothing(hub: StreamProcess) -> None:
    stream = hub.source(StreamConfig("http://127.0.0.1:9/stream"))
    stream.stop("not wanted")
    items = [item async for item in stream.items()]
    assert [(i.state, i.reason) for i in items] == [(State.STOPPED, "not wanted")]  # type: ignore[union-attr]
    assert hub.pid is None


async def test_a_process_that_cannot_run_is_retried_with_its_reason() -> None:
    failing = "import sys; sys.exit('cannot import what we need')"
    hub = StreamProcess([sys.executable, "-c", failing])
    stream = hub.source(StreamConfig("http://127.0.0.1:9/stream", max_backoff=0.2))
    retries: list[StateChange] = []
    async with asyncio.timeout(20):
        async for item in stream.items():
            if isinstance(item, StateChange) and item.state is State.RECONNECTING:
                retries.append(item)
                if len(retries) == 3:
                    stream.stop()
    await hub.aclose()
    assert [retry.attempt for retry in retries] == [1, 2, 3]  # backing off, not spinning
    assert all("(exit status 1): cannot import what we need" in retry.reason
               for retry in retries), [retry.reason for retry in retries]
    assert ["without --stream-process" in retry.reason for retry in retries] == [False, False, True]


async def test_closing_the_hub_ends_its_streams_and_its_process(
    demo_server: ServerProcess,
) -> None:
    hub = StreamProcess()
    stream = hub.source(config_for(demo_server, "logs"))
    items: list[StreamItem] = []
    first_event = asyncio.Event()

    async def follow() -> None:
        async for item in stream.items():
            items.append(item)
            if isinstance(item, Event):
                first_event.set()

    follower = asyncio.create_task(follow())
    async with asyncio.timeout(15):
        await first_event.wait()
        pid = hub.pid
        assert pid is not None
        await hub.aclose()
        await follower
    final = items[-1]
    assert isinstance(final, StateChange) and final.state is State.STOPPED
    assert final.reason == "monitor closed"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone, and reaped


async def test_a_process_that_floods_stderr_still_tells_why_it_ended() -> None:
    flood = "import sys; sys.stderr.write('x' * 3_000_000 + '\\nthe reason\\n'); sys.exit(3)"
    hub = StreamProcess([sys.executable, "-c", flood])
    stream = hub.source(StreamConfig("http://127.0.0.1:9/stream"))
    retries: list[StateChange] = []
    async with asyncio.timeout(20):
        async for item in stream.items():
            if isinstance(item, StateChange) and item.state is State.RECONNECTING:
                retries.append(item)
                stream.stop()
    await hub.aclose()
    assert len(retries) == 1
    assert retries[0].reason.startswith("stream process ended (exit status 3): the reason")
