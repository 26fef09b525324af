"""SSEStream against small raw servers that send exact bytes: statuses, caps, watchdog, control."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from monitor.client.backoff import MIN_RECONNECT_DELAY, backoff_delay, parse_retry_after
from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.client.stream import SSEStream, StreamConfig, new_client, with_topic
from tests.client.rawserver import STREAM_HEADERS, Handler, RawServer, respond, stream

pytestmark = pytest.mark.anyio


def head(status: str, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


async def collect(
    sse: SSEStream, until: Callable[[StreamItem], bool] = lambda item: False, seconds: float = 10
) -> list[StreamItem]:
    """Items until the stream ends, or until `until(item)` (the stream is then stopped)."""
    items: list[StreamItem] = []
    async with asyncio.timeout(seconds):
        async for item in sse.items():
            items.append(item)
            if until(item):
                sse.stop("test done")
    return items


def states(items: list[StreamItem]) -> list[State]:
    return [item.state for item in items if isinstance(item, StateChange)]


def events(items: list[StreamItem]) -> list[tuple[str, str, str]]:
    return [(i.type, i.data, i.id) for i in items if isinstance(i, Event)]


def config(url: str, **options: object) -> StreamConfig:
    return StreamConfig(url, **{"reconnect_delay": 0.01, **options})  # type: ignore[arg-type]


async def test_204_stops_for_good() -> None:
    async with RawServer([respond(head("204 No Content"))]) as server:
        items = await collect(SSEStream(config(server.url)))
    assert states(items) == [State.CONNECTING, State.STOPPED]
    assert items[-1].status == 204 and "204" in items[-1].reason
    assert len(server.requests) == 1


async def test_wrong_content_type_is_an_error_with_the_body() -> None:
    page = respond(head("200 OK", "Content-Type: text/html; charset=utf-8"), b"<html>\n  hi")
    async with RawServer([page]) as server:
        items = await collect(SSEStream(config(server.url)))
    final = items[-1]
    assert isinstance(final, StateChange) and final.state is State.ERROR
    assert "text/html" in final.reason and "<html> hi" in final.reason
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "hint"),
    [("401 Unauthorized", "credentials"), ("403 Forbidden", "denied"),
     ("404 Not Found", "check the URL"), ("400 Bad Request", "")],
)
async def test_client_errors_stop_with_status_reason_and_body(status: str, hint: str) -> None:
    answer = respond(head(status, "Content-Type: text/plain"), b"no such topic 'x'")
    async with RawServer([answer]) as server:
        items = await collect(SSEStream(config(server.url)))
    final = items[-1]
    assert isinstance(final, StateChange) and final.state is State.ERROR
    assert final.status == int(status[:3])
    assert final.reason.startswith(status) and hint in final.reason
    assert final.reason.endswith("no such topic 'x'")
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", ["503 Service Unavailable", "429 Too Many Requests"])
async def test_retry_after_is_honoured(status: str) -> None:
    busy = respond(head(status, "Retry-After: 1", "Content-Length: 0"))
    async with RawServer([busy, stream(b"data: ok\n\n")]) as server:
        items = await collect(SSEStream(config(server.url)), until=lambda i: isinstance(i, Event))
    waiting = next(i for i in items if isinstance(i, StateChange) and i.state is State.RECONNECTING)
    assert (waiting.delay, waiting.status) == (1.0, int(status[:3]))
    assert events(items) == [("message", "ok", "")]


def test_parse_retry_after_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after("120", now=0) == 120.0


async def test_server_retry_sets_the_reconnection_time() -> None:
    async with RawServer([stream(b"retry: 70\ndata: a\n\n"), stream(b"data: b\n\n")]) as server:
        sse = SSEStream(StreamConfig(server.url, reconnect_delay=5))
        items = await collect(sse, until=lambda i: isinstance(i, Event) and i.data == "b")
    waiting = next(i for i in items if isinstance(i, StateChange) and i.state is State.RECONNECTING)
    assert waiting.delay == pytest.approx(0.07)
    assert sse.retry_ms == 70


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    assert backoff_delay(1, 2.0, 30.0) == 2.0
    assert [backoff_delay(n, 2.0, 30.0, rand=lambda: 1.0) for n in (2, 3, 4, 5)] == [4, 8, 16, 30]
    assert [backoff_delay(n, 2.0, 30.0, rand=lambda: 0.0) for n in (2, 3, 5)] == [2, 4, 15]
    assert backoff_delay(9, 60.0, 30.0, rand=lambda: 1.0) == 60.0  # never below the server's time


async def test_backoff_grows_on_failures_and_resets_after_a_healthy_connection() -> None:
    failing = respond(head("500 Internal Server Error", "Content-Length: 0"))
    good = stream(b"data: ok\n\n")
    async with RawServer([good, failing, failing, failing, good, failing]) as server:
        sse = SSEStream(StreamConfig(server.url, reconnect_delay=0.02, max_backoff=1.0))
        seen = 0

        def second_ok(item: StreamItem) -> bool:
            nonlocal seen
            seen += isinstance(item, Event)
            return seen == 2 and isinstance(item, StateChange)  # the wait after the second "ok"

        items = await collect(sse, until=second_ok)
    waits = [(i.attempt, i.delay) for i in items
             if isinstance(i, StateChange) and i.state is State.RECONNECTING]
    assert [attempt for attempt, _ in waits] == [1, 2, 3, 4, 1]
    assert waits[0][1] == waits[4][1] == 0.02  # ended cleanly after an event: no floor
    floor = MIN_RECONNECT_DELAY  # failures: the floor, doubling with jitter up to the cap
    assert floor <= waits[1][1] <= 2 * floor and 2 * floor <= waits[2][1] <= 4 * floor
    assert waits[3][1] <= 1.0
    assert sse.stats.reconnects == 5


async def test_last_event_id_sent_on_reconnect_and_kept_by_the_parser() -> None:
    first = stream("id: é-1\ndata: a\n\n".encode())
    async with RawServer([first, stream(b"data: b\n\n")]) as server:
        items = await collect(
            SSEStream(config(server.url)), until=lambda i: isinstance(i, Event) and i.data == "b"
        )
    assert events(items) == [("message", "a", "é-1"), ("message", "b", "é-1")]
    assert "last-event-id" not in server.requests[0].headers
    assert server.requests[1].headers["last-event-id"] == "é-1".encode()  # UTF-8 bytes
    assert server.requests[0].headers["accept"] == b"text/event-stream"


async def test_configured_last_event_id_and_headers_are_sent() -> None:
    async with RawServer([stream(b"data: a\n\n")]) as server:
        sse = SSEStream(config(server.url, last_event_id="41", headers={"X-Token": "t0k"}))
        await collect(sse, until=lambda i: isinstance(i, Event))
    assert server.requests[0].headers["last-event-id"] == b"41"
    assert server.requests[0].headers["x-token"] == b"t0k"


async def test_charset_is_ignored_body_is_utf8() -> None:
    latin = respond(head("200 OK", "Content-Type: text/event-stream; charset=iso-8859-1"),
                    "data: é€\n\n".encode())
    async with RawServer([latin]) as server:
        items = await collect(SSEStream(config(server.url, reconnect=False)))
    assert events(items) == [("message", "é€", "")]
    assert items[-1].state is State.STOPPED


async def test_watchdog_replaces_a_silent_connection() -> None:
    silent = stream(hold=30)  # headers, then nothing at all
    async with RawServer([silent, stream(b"data: fresh\n\n", hold=30)]) as server:
        sse = SSEStream(config(server.url, watchdog=0.3))
        items = await collect(sse, until=lambda i: isinstance(i, Event))
    waiting = next(i for i in items if isinstance(i, StateChange) and i.state is State.RECONNECTING)
    assert "watchdog" in waiting.reason
    assert events(items) == [("message", "fresh", "")]
    assert len(server.requests) == 2


async def test_watchdog_reason_rounds_its_seconds() -> None:
    silent = stream(hold=30)
    async with RawServer([silent, stream(b"data: fresh\n\n", hold=30)]) as server:
        sse = SSEStream(config(server.url, watchdog=0.30004))
        items = await collect(sse, until=lambda i: isinstance(i, Event))
    waiting = next(i for i in items if isinstance(i, StateChange) and i.state is State.RECONNECTING)
    assert waiting.reason == "no data for 0.3s (watchdog)"


async def test_comments_keep_the_watchdog_quiet() -> None:
    chatty = stream(*[b": ping\n"] * 8, b"data: done\n\n", pause=0.1)
    async with RawServer([chatty]) as server:
        items = await collect(SSEStream(config(server.url, watchdog=0.4, reconnect=False)))
    assert State.RECONNECTING not in states(items)
    assert events(items) == [("message", "done", "")]


async def test_auto_watchdog_follows_the_heartbeat() -> None:
    beats = stream(*[b"event: heartbeat\ndata: {}\n\n"] * 3, pause=0.1)
    async with RawServer([beats]) as server:
        sse = SSEStream(config(server.url, reconnect=False))
        items = await collect(sse)
    assert [type(i) for i in items if not isinstance(i, StateChange)] == [Heartbeat] * 3
    assert sse.heartbeat_interval is not None and 0.05 < sse.heartbeat_interval < 1
    assert sse.stats.heartbeats == 3 and sse.stats.events == 0


def pause_then(first: bytes, silence: float, second: bytes) -> Handler:
    """A stream that sends `first`, stays silent for `silence` seconds, then sends `second`."""

    async def handle(writer: asyncio.StreamWriter) -> None:
        writer.write(STREAM_HEADERS + first)
        await writer.drain()
        await asyncio.sleep(silence)
        writer.write(second)
        await writer.drain()
        await asyncio.sleep(30)

    return handle


async def test_a_long_silence_without_a_rhythm_keeps_the_connection() -> None:
    # A third-party stream (an LLM thinking) sends no heartbeats: silence is not a fault.
    thinking = pause_then(b"data: one\n\n", 3.0, b"data: two\n\n")
    async with RawServer([thinking, stream(b"data: again\n\n", hold=30)]) as server:
        sse = SSEStream(config(server.url))
        items = await collect(sse, until=lambda i: isinstance(i, Event) and i.data == "two")
    assert State.RECONNECTING not in states(items)
    assert [data for _type, data, _id in events(items)] == ["one", "two"]
    assert len(server.requests) == 1 and sse.watchdog.interval is None


async def test_a_forced_watchdog_cuts_the_same_silence() -> None:
    thinking = pause_then(b"data: one\n\n", 3.0, b"data: two\n\n")
    async with RawServer([thinking, stream(b"data: again\n\n", hold=30)]) as server:
        sse = SSEStream(config(server.url, watchdog=1))
        items = await collect(sse, until=lambda i: isinstance(i, Event) and i.data == "again")
    cut = next(i for i in items if isinstance(i, StateChange) and i.state is State.RECONNECTING)
    assert cut.reason == "no data for 1s (watchdog)"
    assert [data for _type, data, _id in events(items)] == ["one", "again"]


async def test_watchdog_zero_never_cuts() -> None:
    silent = pause_then(b": hello\n", 1.5, b"data: late\n\n")
    async with RawServer([silent]) as server:
        sse = SSEStream(config(server.url, watchdog=0))
        items = await collect(sse, until=lambda i: isinstance(i, Event))
    assert State.RECONNECTING not in states(items) and len(server.requests) == 1


async def test_a_rhythm_of_comments_arms_the_auto_watchdog() -> None:
    pings = stream(*[b": ping\n\n"] * 4, pause=0.2, hold=30)
    async with RawServer([pings, stream(b"data: fresh\n\n", hold=30)]) as server:
        sse = SSEStream(config(server.url))
        items = await collect(sse, until=lambda i: isinstance(i, Event))
    assert sse.watchdog.interval is not None and sse.watchdog.interval < 1
    cut = next(i for i in items if isinstance(i, StateChange) and i.state is State.RECONNECTING)
    assert cut.reason == "no data for 2s (watchdog)"  # the floor: 3 intervals are shorter
    assert events(items) == [("message", "fresh", "")]


async def test_line_cap_is_a_clear_error() -> None:
    async with RawServer([stream(b"data: " + b"x" * 5000, hold=30)]) as server:
        items = await collect(SSEStream(config(server.url, max_line_bytes=1000)))
    final = items[-1]
    assert isinstance(final, StateChange) and final.state is State.ERROR
    assert "max_line_bytes" in final.reason


async def test_gap_and_heartbeat_items() -> None:
    body = (
        b'id: e-9\nevent: gap\ndata: {"topic": "t", "requested": "x-1", "reason": "other-run",'
        b' "detail": "new run", "resume_from": "e-10", "missed": null}\n\n'
        b'event: heartbeat\ndata: {"time": 1.5}\n\n'
        b"event: gap\ndata: not json\n\n"
    )
    async with RawServer([stream(body)]) as server:
        sse = SSEStream(config(server.url, reconnect=False, clock=lambda: 99.0))
        items = await collect(sse)
    gap, beat, other = [i for i in items if not isinstance(i, StateChange)]
    assert gap == Gap("x-1", "other-run", "new run", "e-10", None, 99.0, id="e-9", raw=gap.raw,
                      data=body.split(b"data: ")[1].split(b"\n")[0].decode())
    assert isinstance(beat, Heartbeat) and beat.info == {"time": 1.5} and beat.received == 99.0
    assert isinstance(other, Event) and other.type == "gap" and other.id == "e-9"
    assert (sse.stats.gaps, sse.stats.heartbeats, sse.stats.events) == (1, 1, 1)
    assert sse.stats.last_heartbeat == 99.0 and sse.last_event_id == "e-9"


async def test_no_reconnect_clean_end_stops_refused_is_error() -> None:
    async with RawServer([stream(b"data: a\n\n")]) as server:
        items = await collect(SSEStream(config(server.url, reconnect=False)))
        url = server.url
    assert items[-1].state is State.STOPPED
    items = await collect(SSEStream(config(url, reconnect=False)))  # nothing listens now
    assert items[-1].state is State.ERROR and "refused" in items[-1].reason


async def test_reconnect_drops_at_once_and_resumes_or_forgets() -> None:
    quiet = stream(b"id: 5\ndata: a\n\n", hold=30)
    async with RawServer([quiet]) as server:
        sse = SSEStream(config(server.url, reconnect_delay=30))
        count = 0

        def control(item: StreamItem) -> bool:
            nonlocal count
            if isinstance(item, Event):
                count += 1
                asyncio.get_running_loop().call_later(0.1, sse.reconnect, count == 1)
            return count == 3

        items = await collect(sse, until=control)
    assert [r.headers.get("last-event-id") for r in server.requests] == [None, b"5", None]
    waits = [i for i in items if isinstance(i, StateChange) and i.state is State.RECONNECTING]
    assert [(w.delay, w.reason) for w in waits] == [
        (0.0, "reconnect requested"), (0.0, "reconnect requested, from scratch (no Last-Event-ID)")]


async def test_stop_interrupts_a_quiet_connection_and_a_backoff_wait() -> None:
    async with RawServer([stream(hold=30)]) as server:
        sse = SSEStream(config(server.url))
        asyncio.get_running_loop().call_later(0.2, sse.stop, "bye")
        items = await collect(sse, seconds=5)
    assert states(items) == [State.CONNECTING, State.LIVE, State.STOPPED]
    assert items[-1].reason == "bye" and not sse.running
    async with RawServer([respond(head("503 Service Unavailable", "Retry-After: 60"))]) as server:
        sse = SSEStream(config(server.url))
        items = await collect(sse, until=lambda i: getattr(i, "state", None) is State.RECONNECTING)
    assert states(items)[-2:] == [State.RECONNECTING, State.STOPPED]


async def test_unsupported_scheme_is_an_error() -> None:
    items = await collect(SSEStream(config("ftp://127.0.0.1/stream")))
    assert items[-1].state is State.ERROR and "cannot request" in items[-1].reason


def test_with_topic_sets_or_replaces_the_parameter() -> None:
    assert with_topic("http://h/stream", "logs") == "http://h/stream?topic=logs"
    assert with_topic("http://h/s?topic=a&x=1", "b c") == "http://h/s?topic=b+c&x=1"


async def test_stream_sockets_use_tcp_keepalive() -> None:
    # Canary: httpx passes socket_options down to the socket a stream is read from.
    async with RawServer([stream(b"data: x\n\n", hold=30)]) as server, new_client() as client, \
            client.stream("GET", server.url) as response:
        sock = response.extensions["network_stream"].get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        if hasattr(socket, "TCP_KEEPIDLE"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
