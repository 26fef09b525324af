"""The monitor against broken and hostile servers: every case ends in a clear state (an `error: ...`
or a reconnect with its reason), never an exception or a traceback, and memory stays bounded."""

from __future__ import annotations

import asyncio
import sys
import tracemalloc
from contextlib import aclosing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.client.events import Event, State, StateChange, StreamItem
from monitor.client.stream import SSEStream, StreamConfig
from tests.client.rawserver import STREAM_HEADERS, Handler, RawServer, respond, stream
from tests.hardening.conftest import FIGURES
from tests.sse_reference import ReferenceParser

pytestmark = pytest.mark.anyio
LIMIT = 64 * 1024  # the client's line and event caps in these tests
SETTLED = (State.RECONNECTING, State.STOPPED, State.ERROR)


async def follow(url: str, *, within: float = 5.0, watchdog: float | None = 0.5,
                 ) -> list[StreamItem]:
    """Every item until the stream settles: its first reconnect, or its end."""
    config = StreamConfig(url=url, watchdog=watchdog, reconnect_delay=0.01,
                          max_line_bytes=LIMIT, max_event_bytes=4 * LIMIT)
    sse = SSEStream(config)
    items: list[StreamItem] = []
    async with asyncio.timeout(within), aclosing(sse.items()) as stream_items:
        async for item in stream_items:
            items.append(item)
            if isinstance(item, StateChange) and item.state in SETTLED:
                break
    FIGURES["client faults tried"] += 1
    return items


def settled(items: list[StreamItem]) -> StateChange:
    """The final state, which must say why."""
    last = items[-1]
    assert isinstance(last, StateChange) and last.state in SETTLED, items[-3:]
    assert last.reason and "Traceback" not in last.reason, last
    return last


async def follow_handler(handler: Handler, **options: float | None) -> list[StreamItem]:
    async with RawServer([handler]) as server:
        return await follow(server.url, **options)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
frames = st.lists(st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"data: ok\n\n", b"id: 1\n", b"retry: 10\n", b"event: gap\ndata: {\n\n",
                     b"\xff\xfe\xc3(\n\n", b"data: \xed\xa0\x80\n\n", b"\r", b"\n", b":\n",
                     b"event: heartbeat\ndata: []\n\n", b"id: \x00\n\n", b"retry: -1\n"])),
    max_size=30)


@FUZZ
@given(parts=frames, cuts=st.lists(st.integers(0, 2000), max_size=10))
def test_random_bytes_in_random_chunks(parts: list[bytes], cuts: list[int]) -> None:
    body = b"".join(parts)
    items = asyncio.run(follow_handler(stream(*chunked(body, cuts), hold=0.05)))
    final = settled(items)
    assert final.state is State.RECONNECTING  # the server closed: reconnect, resuming
    # and what was dispatched is exactly what the spec's parser dispatches from those bytes
    expected = [event.data for event in ReferenceParser().feed(body)]
    assert [item.data for item in items if not isinstance(item, StateChange)] == expected


@FUZZ
@given(garbage=st.binary(min_size=1, max_size=300))
def test_garbage_instead_of_http(garbage: bytes) -> None:
    items = asyncio.run(follow_handler(respond(garbage)))
    settled(items)


@pytest.mark.parametrize(("handler", "state", "reason"), [
    (respond(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n"
             b"Content-Length: 44\r\n\r\n<html><body><h1>Oops</h1></body></html>\n\n\n\n"),
     State.RECONNECTING, "500 Internal Server Error: <html><body><h1>Oops"),
    (respond(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 22\r\n\r\n"
             b"<html>missing</html>\r\n"), State.ERROR, "404 Not Found (check the URL)"),
    (respond(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 16\r\n\r\n"
             b"<html>hi</html>\n"), State.ERROR, "not an event stream"),
    (respond(b"HTTP/1.1 302 Found\r\nLocation: /stream\r\nContent-Length: 0\r\n\r\n"),
     State.RECONNECTING, "redirect"),  # a redirect loop
    (stream(hold=5), State.RECONNECTING, "no data for 0.5s (watchdog)"),  # headers, then nothing
    (stream(b"data: " + b"x" * (LIMIT + 10)), State.ERROR, "line longer than the limit"),
    (stream(b"data: x\n" * LIMIT), State.ERROR, "event larger than the limit"),
])
async def test_broken_servers_end_in_a_clear_state(handler: Handler, state: State,
                                                   reason: str) -> None:
    final = settled(await follow_handler(handler))
    assert final.state is state and reason in final.reason, final


async def test_a_server_that_never_answers_is_replaced_by_the_watchdog() -> None:
    async def silent(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    final = settled(await follow_handler(silent))
    assert final.state is State.RECONNECTING and "no response for 0.5s" in final.reason


async def test_redirects_are_followed() -> None:
    moved = respond(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\n"
                    b"Content-Length: 0\r\n\r\n")
    async with RawServer([moved, stream(b"id: 1\ndata: moved\n\n")]) as server:
        items = await follow(server.url)
    assert [item.data for item in items if isinstance(item, Event)] == ["moved"]
    assert server.requests[1].line.startswith("GET /elsewhere ")


async def test_tls_to_a_plain_http_port_is_a_clear_error() -> None:
    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the TLS ClientHello: answered as any HTTP server answers garbage
        writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        final = settled(await follow(f"https://127.0.0.1:{port}/stream"))
    assert final.state is State.RECONNECTING and "cannot connect" in final.reason, final
    assert "SSL" in final.reason, final


async def test_an_endless_line_keeps_memory_bounded() -> None:
    async def endless(writer: asyncio.StreamWriter) -> None:
        writer.write(STREAM_HEADERS + b"data: ")
        for _ in range(400):  # 25 MB without a line break, were the client to keep it all
            writer.write(b"y" * 65536)
            await writer.drain()

    tracemalloc.start()
    try:
        final = settled(await follow_handler(endless, within=15))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert final.state is State.ERROR and "line longer than the limit" in final.reason
    assert peak < 8 * LIMIT + 4 * 2**20, f"peak {peak / 2**20:.1f} MiB"


async def test_the_plain_cli_prints_no_traceback() -> None:
    garbage = respond(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                      b"Content-Length: 5\r\n\r\n\xff\xfe\x00\r\r")
    async with RawServer([garbage]) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", server.url, "--plain", "--no-reconnect",
            "--token", "cli-secret-token", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 20)
    text = (out + err).decode()
    assert "Traceback" not in text and "cli-secret-token" not in text, text
    assert process.returncode == 0 and "stopped: stream ended by the server" in text, text
    assert server.requests[0].headers["authorization"] == b"Bearer cli-secret-token"
