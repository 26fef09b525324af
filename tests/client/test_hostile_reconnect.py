"""Reconnect arithmetic and parsing against hostile servers: nothing a server sends makes the
monitor crash, stick, or reconnect in a tight loop."""

from __future__ import annotations

import asyncio
import sys
from contextlib import aclosing

import pytest

from monitor.cli import parse_args
from monitor.client.backoff import MAX_RECONNECT_DELAY, backoff_delay, parse_retry_after
from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.client.process import StreamProcess
from monitor.client.safejson import MAX_DEPTH
from monitor.client.sse import MAX_RETRY_MS, EventStreamParser
from monitor.client.stream import SSEStream, StreamConfig
from tests.client.rawserver import RawServer, respond, stream
from tests.client.test_stream_raw import collect, head
from tests.servers import ROOT

pytestmark = pytest.mark.anyio
WINDOW = 2.0  # seconds a reconnect loop is watched
MAX_REQUESTS = 15  # in WINDOW: a tight loop makes hundreds
DEEP = 100_000  # far past the interpreter's recursion limit


def deep_json(depth: int = DEEP) -> bytes:
    return b"[" * depth + b"]" * depth


def test_backoff_stays_bounded_at_any_attempt() -> None:
    for attempt in (1024, 1025, 10**6, 10**12):
        assert backoff_delay(attempt, 3.0, 30.0, rand=lambda: 1.0) == 30.0
        assert backoff_delay(attempt, 3.0, 30.0, rand=lambda: 0.0) == 15.0
    assert backoff_delay(10**6, 0.0, 30.0, rand=lambda: 1.0) == 0.0  # the floor is the caller's


def test_retry_after_is_clamped_and_never_raises() -> None:
    assert parse_retry_after("9" * 400, now=0) == MAX_RECONNECT_DELAY
    assert parse_retry_after("9" * 5000, now=0) == MAX_RECONNECT_DELAY
    assert parse_retry_after("0" * 5000 + "7", now=0) == 7.0
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now=0) == MAX_RECONNECT_DELAY


@pytest.mark.parametrize(("digits", "retry"), [
    ("9" * 400, MAX_RETRY_MS), ("9" * 5000, MAX_RETRY_MS), ("0" * 5000 + "42", 42),
    (str(MAX_RETRY_MS + 1), MAX_RETRY_MS),
], ids=["400-digits", "5000-digits", "leading-zeros", "a-day-and-1ms"])
def test_a_huge_retry_is_clamped_and_its_event_dispatched(digits: str, retry: int) -> None:
    parser = EventStreamParser()
    events = parser.feed(f"retry: {digits}\ndata: kept\n\n".encode())
    assert [(e.data, e.retry) for e in events] == [("kept", retry)]
    assert parser.retry == retry


async def requests_in_window(server: RawServer, config: StreamConfig) -> int:
    """How many requests a stream makes to `server` in WINDOW seconds."""
    sse = SSEStream(config)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(WINDOW), aclosing(sse.items()) as items:
            async for _ in items:
                pass
    return len(server.requests)


@pytest.mark.parametrize("answer", [
    stream(b"retry: 0\n\n"),  # live, then closed without an event
    stream(b"retry: 0\ndata: half an event"),
    respond(head("503 Service Unavailable", "Retry-After: 0", "Content-Length: 0")),
    respond(b"not http at all\r\n\r\n"),
], ids=["retry-0-no-event", "retry-0-cut", "retry-after-0", "garbage"])
async def test_failed_connections_back_off_whatever_the_server_asks(answer) -> None:
    async with RawServer([answer]) as server:
        seen = await requests_in_window(server, StreamConfig(server.url, reconnect_delay=0))
    print(f"requests in {WINDOW}s: {seen}")
    assert 2 <= seen <= MAX_REQUESTS


async def test_a_stream_that_delivered_and_ended_reconnects_at_the_servers_time() -> None:
    async with RawServer([stream(b"retry: 0\ndata: a\n\n"), stream(b"data: b\n\n")]) as server:
        items = await collect(SSEStream(StreamConfig(server.url)),
                              until=lambda i: isinstance(i, Event) and i.data == "b")
    waits = [i for i in items if isinstance(i, StateChange) and i.state is State.RECONNECTING]
    assert [w.delay for w in waits] == [0.0]


async def test_a_huge_retry_from_the_server_waits_a_day_at_most() -> None:
    async with RawServer([stream(b"retry: " + b"9" * 400 + b"\ndata: a\n\n")]) as server:
        sse = SSEStream(StreamConfig(server.url))
        items = await collect(sse, until=lambda i: getattr(i, "state", None) is State.RECONNECTING)
    assert [i.data for i in items if isinstance(i, Event)] == ["a"]
    waiting = items[-2]
    assert isinstance(waiting, StateChange) and waiting.delay == MAX_RECONNECT_DELAY
    assert items[-1].state is State.STOPPED  # stop() cut the day short


async def test_a_failure_after_a_huge_retry_after_backs_off_within_a_day() -> None:
    busy = respond(head("503 Service Unavailable", "Retry-After: " + "9" * 400,
                        "Content-Length: 0"))
    async with RawServer([busy]) as server:
        items = await collect(SSEStream(StreamConfig(server.url)),
                              until=lambda i: getattr(i, "state", None) is State.RECONNECTING)
    assert items[-2].delay == MAX_RECONNECT_DELAY


DEEP_FRAMES = (b"event: heartbeat\ndata: " + deep_json() + b"\n\n"
               b'event: gap\ndata: {"reason": "evicted", "detail": ' + deep_json() + b"}\n\n"
               b"data: " + deep_json(MAX_DEPTH + 1) + b"\n\n"
               b'event: heartbeat\ndata: {"time": 1}\n\n')


async def test_deep_json_in_heartbeats_gaps_and_events_is_survived() -> None:
    async with RawServer([stream(DEEP_FRAMES)]) as server:
        items = await collect(SSEStream(StreamConfig(server.url, reconnect=False)))
    beat, gap, event, last = [i for i in items if not isinstance(i, StateChange)]
    assert isinstance(beat, Heartbeat) and beat.info == {}
    assert isinstance(gap, Event) and gap.type == "gap"  # not a gap it can read: shown as it came
    assert isinstance(event, Event) and event.json() is None
    assert isinstance(last, Heartbeat) and last.info == {"time": 1}
    assert items[-1].state is State.STOPPED
    assert not any(isinstance(i, Gap) for i in items)


async def test_deep_json_through_the_stream_process() -> None:
    process = StreamProcess()
    try:
        async with RawServer([stream(DEEP_FRAMES)]) as server:
            source = process.source(StreamConfig(server.url, reconnect=False))
            items: list[StreamItem] = []
            async with asyncio.timeout(20), aclosing(source.items()) as stream_items:
                async for item in stream_items:
                    items.append(item)
    finally:
        await process.aclose()
    final = items[-1]
    assert isinstance(final, StateChange) and final.state is State.STOPPED, final
    assert "stream ended by the server" in final.reason
    assert [type(i) for i in items if not isinstance(i, StateChange)] == [
        Heartbeat, Event, Event, Heartbeat]


async def test_the_plain_mode_survives_deep_json_without_a_traceback() -> None:
    async with RawServer([stream(DEEP_FRAMES)]) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", server.url, "--plain", "--no-reconnect",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert "Traceback" not in err.decode(), err.decode()[-2000:]
    assert process.returncode == 0 and b"stopped: stream ended by the server" in err
    assert out.count(b"\n") == 2  # the gap it could not read, and the event


@pytest.mark.parametrize("delay", ["inf", "nan", "1e300", str(MAX_RECONNECT_DELAY + 1)])
def test_a_reconnect_delay_beyond_a_day_is_refused(
    delay: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["http://h/stream", "--reconnect-delay", delay])
    assert exit_info.value.code == 2 and "must be at most 86400" in capsys.readouterr().err
