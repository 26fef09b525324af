"""The monitor's HTTP against hostile servers: compression bombs, cross-origin redirects, a hostile
`GET /topics`, and credentials that cannot travel in a header."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import zlib
from collections.abc import Iterator

import pytest

from monitor.client.events import Event, State, StateChange
from monitor.client.stream import SSEStream, StreamConfig
from monitor.client.topics import (
    MAX_TOPICS,
    TopicList,
    TopicsRefused,
    list_topics,
    wait_for_topics,
)
from tests.client.rawserver import RawServer, respond, stream
from tests.client.test_stream_raw import collect, head
from tests.servers import ROOT

pytestmark = pytest.mark.anyio
BOMB_BYTES = 512 * 2**20  # blank lines, once decompressed
MEMORY_BOUND = 32 * 2**20  # what following the bomb may add to the peak RSS


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """512 MiB of blank lines, gzipped to about half a megabyte (made in pieces, never whole)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\n" * 2**20
    return b"".join([*(packer.compress(block) for _ in range(BOMB_BYTES // len(block))),
                     packer.flush()])


def peak_rss() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


@contextlib.contextmanager
def rss_growth(label: str) -> Iterator[None]:
    """Asserts that the block raises the process's peak RSS by less than MEMORY_BOUND."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the peak starts again from the current RSS
    before = peak_rss()
    yield
    after = peak_rss()
    print(f"{label}: peak RSS {before / 2**20:.0f} -> {after / 2**20:.0f} MiB")
    assert after - before < MEMORY_BOUND


def gzipped(status: str, content_type: str, body: bytes) -> bytes:
    return head(status, f"Content-Type: {content_type}", "Content-Encoding: gzip",
                f"Content-Length: {len(body)}") + body


async def test_a_gzip_bomb_stream_is_refused_fast_with_bounded_memory(gzip_bomb: bytes) -> None:
    print(f"bomb: {len(gzip_bomb)} bytes on the wire, {BOMB_BYTES} decompressed")
    async with RawServer([respond(gzipped("200 OK", "text/event-stream", gzip_bomb))]) as server:
        with rss_growth("gzip bomb stream"):
            items = await collect(SSEStream(StreamConfig(server.url)), seconds=20)
    final = items[-1]
    assert isinstance(final, StateChange) and final.state is State.ERROR
    assert "Content-Encoding: gzip" in final.reason and "refused" in final.reason
    assert server.requests[0].headers["accept-encoding"] == b"identity"


async def test_a_gzip_bomb_error_body_is_not_decompressed(gzip_bomb: bytes) -> None:
    failing = respond(gzipped("500 Internal Server Error", "text/plain", gzip_bomb))
    async with RawServer([failing]) as server:
        with rss_growth("gzip bomb error body"):
            items = await collect(SSEStream(StreamConfig(server.url)), seconds=20,
                                  until=lambda i: getattr(i, "state", None) is State.RECONNECTING)
    waiting = items[-2]
    assert isinstance(waiting, StateChange) and waiting.state is State.RECONNECTING
    assert waiting.reason == "500 Internal Server Error"


async def test_a_gzip_bomb_topics_answer_is_refused(gzip_bomb: bytes) -> None:
    async with RawServer([respond(gzipped("200 OK", "application/json", gzip_bomb))]) as server:
        with rss_growth("gzip bomb topics"), pytest.raises(ValueError, match="compressed"):
            await list_topics(server.url)


async def test_a_cross_origin_redirect_drops_the_users_headers_and_says_so_once() -> None:
    user = {"X-Api-Key": "key-123456", "Authorization": "Bearer tok-123456"}
    async with RawServer([stream(b"data: there\n\n")]) as other:
        moved = head("307 Temporary Redirect", f"Location: {other.url}", "Content-Length: 0")
        same = head("307 Temporary Redirect", "Location: /moved", "Content-Length: 0")
        async with RawServer([respond(same), respond(moved)]) as first:
            sse = SSEStream(StreamConfig(first.url, headers=user, reconnect_delay=0.01))
            seen = 0

            def second_event(item: object) -> bool:
                nonlocal seen
                seen += isinstance(item, Event)
                return seen == 2

            items = await collect(sse, until=second_event)
    for request in first.requests:  # same origin, through its own redirect: every header
        assert request.headers["x-api-key"] == b"key-123456"
        assert request.headers["authorization"] == b"Bearer tok-123456"
    assert first.requests[1].line.startswith("GET /moved ")
    assert len(other.requests) == 2
    for request in other.requests:
        assert "x-api-key" not in request.headers and "authorization" not in request.headers
    lives = [i.describe() for i in items if isinstance(i, StateChange) and i.state is State.LIVE]
    assert len(lives) == 2
    assert "redirected to another origin" in lives[0] and "X-Api-Key, Authorization" in lives[0]
    assert "key-123456" not in lives[0]
    assert lives[1] == "live"  # said once per stream


async def test_topic_discovery_takes_a_sane_number_and_says_how_many_it_left_out() -> None:
    names = ",".join(f'{{"name": "t{n}"}}' for n in range(50_000))
    answer = f'{{"topics": [{names}]}}'.encode()
    listing = respond(head("200 OK", "Content-Type: application/json",
                           f"Content-Length: {len(answer)}"), answer)
    async with RawServer([listing]) as server:
        rows = (await list_topics(server.url)).rows
        found = [step async for step in wait_for_topics(server.url)][-1]
    assert isinstance(found, TopicList)
    assert [row["name"] for row in rows] == [f"t{n}" for n in range(MAX_TOPICS)]
    assert found.names == [f"t{n}" for n in range(MAX_TOPICS)]
    assert found.left_out == 50_000 - MAX_TOPICS


async def test_a_nested_topics_answer_is_a_clear_error() -> None:
    answer = b'{"topics": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    listing = respond(head("200 OK", "Content-Type: application/json",
                           f"Content-Length: {len(answer)}"), answer)
    async with RawServer([listing]) as server:
        with pytest.raises(ValueError, match="nested deeper"):
            await list_topics(server.url)
        with pytest.raises(TopicsRefused, match="nested deeper"):  # waiting will not help
            async for _step in wait_for_topics(server.url):
                pass


async def run_monitor(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, (out + err).decode("utf-8", "replace")


@pytest.mark.parametrize("flag", [
    ("--token", "t\u00f6k\u20acn-secret"),  # the euro sign is not Latin-1
    ("--header", "X-Api-Key: key-\x01-secret"),
    ("--header", "X-Api-Key: key-\u4e2d-secret"),
], ids=["token-not-latin-1", "header-control", "header-not-latin-1"])
async def test_a_credential_that_cannot_be_sent_is_a_one_line_error(flag: tuple[str, str]) -> None:
    async with RawServer([stream(b"data: a\n\n")]) as server:
        code, text = await run_monitor(server.url, "--plain", "--no-reconnect", *flag)
    assert code == 2 and "cannot be sent in an HTTP header" in text, text
    assert "Traceback" not in text and "secret" not in text, text
    assert server.requests == []


async def test_a_latin_1_token_is_sent_as_latin_1() -> None:
    async with RawServer([stream(b"data: a\n\n")]) as server:
        code, text = await run_monitor(server.url, "--plain", "--no-reconnect",
                                       "--token", "t\u00f6k\u00e9n-1")
    assert code == 0 and "Traceback" not in text, text
    assert server.requests[0].headers["authorization"] == "Bearer t\u00f6k\u00e9n-1".encode(
        "latin-1")
