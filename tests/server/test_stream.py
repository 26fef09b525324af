"""GET /stream: headers, frames, ids, topic isolation, heartbeats, HEAD and errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from tests.server.helpers import data, open_stream, publish, seq_of, subscribers, wait_for
from tests.servers import ServerProcess

ID = re.compile(r"[0-9a-f]{8}-[1-9][0-9]*")


@pytest.mark.anyio
async def test_headers_retry_and_frames(quiet_server: ServerProcess, topic: str) -> None:
    base = quiet_server.url
    publish(base, topic, "before", {"n": 0})  # before subscribing: a live-only stream skips it
    async with open_stream(base, topic) as stream:
        headers = stream.response.headers
        assert stream.response.status_code == 200
        assert headers["content-type"] == "text/event-stream; charset=utf-8"
        assert headers["cache-control"] == "no-cache"
        assert headers["x-accel-buffering"] == "no"
        await wait_for(lambda: subscribers(base, topic) == 1)
        sent = [{"n": 1, "text": "line one\nline two\r\nthree\r"}, [1, 2, 3], "just a string"]
        ids = [publish(base, topic, "sample", value) for value in sent]
        events = await stream.take(3)
    assert bytes(stream.raw).startswith(b"retry: 1234\n\n")
    assert stream.parser.retries == [1234]
    assert [data(e) for e in events] == sent
    assert [e.type for e in events] == ["sample"] * 3
    assert [e.last_event_id for e in events] == ids
    assert all(ID.fullmatch(i) for i in ids)
    assert len({i.split("-")[0] for i in ids}) == 1
    assert [seq_of(i) for i in ids] == [2, 3, 4]
    assert all("\n" not in e.data for e in events)  # data is always one line of JSON


def test_head_answers_headers_without_a_stream(quiet_server: ServerProcess,
                                                     topic: str) -> None:
    publish(quiet_server.url, topic, "e")
    response = httpx.head(f"{quiet_server.url}/stream", params={"topic": topic}, timeout=3)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.content == b""
    assert subscribers(quiet_server.url, topic) == 0


@pytest.mark.parametrize(("params", "status", "words"), [
    ({}, 400, "missing topic"),
    ({"topic": "no spaces"}, 400, "invalid topic"),
    ({"topic": "x" * 65}, 400, "invalid topic"),
    ({"topic": "never-published"}, 404, "unknown topic"),
])
def test_bad_topics_get_json_errors(quiet_server: ServerProcess, params: dict[str, str],
                                          status: int, words: str) -> None:
    for method in ("GET", "HEAD"):
        response = httpx.request(method, f"{quiet_server.url}/stream", params=params, timeout=3)
        assert response.status_code == status
        if method == "GET":
            assert words in response.json()["error"]


@pytest.mark.anyio
async def test_topics_are_isolated(quiet_server: ServerProcess) -> None:
    base = quiet_server.url
    names = ["iso-a", "iso-b"]
    for name in names:
        publish(base, name, "init")
    async with open_stream(base, "iso-a") as stream_a, open_stream(base, "iso-b") as stream_b:
        await wait_for(lambda: all(subscribers(base, n) == 1 for n in names))
        for n in range(6):
            publish(base, names[n % 2], "e", {"topic": names[n % 2], "n": n})
        got_a, got_b = await stream_a.take(3), await stream_b.take(3)
    assert [data(e) for e in got_a] == [{"topic": "iso-a", "n": n} for n in (0, 2, 4)]
    assert [data(e) for e in got_b] == [{"topic": "iso-b", "n": n} for n in (1, 3, 5)]
    assert {e.last_event_id.split("-")[0] for e in got_a}.isdisjoint(
        {e.last_event_id.split("-")[0] for e in got_b})  # each topic has its own epoch


@pytest.mark.anyio
async def test_heartbeats_carry_no_id(server_factory: Callable[..., ServerProcess],
                                      topic: str) -> None:
    server = server_factory("--no-simulators", "--heartbeat", "0.2")
    newest = publish(server.url, topic, "e")
    async with open_stream(server.url, topic) as stream:
        beats = await stream.take(2, keep=lambda e: e.type == "heartbeat", within=3)
        mine = publish(server.url, topic, "e", {"after": "beats"})
        [event] = await stream.take(1)
        beat = await stream.take(1, keep=lambda e: e.type == "heartbeat", within=3)
    for parsed in [*beats, *beat]:
        assert not parsed.has_id and "id:" not in parsed.raw
        info = data(parsed)
        assert info["topic"] == topic and info["subscribers"] == 1
        assert isinstance(info["time"], float)
    assert data(beats[0])["newest_id"] == newest
    assert data(beat[0])["newest_id"] == mine
    assert event.last_event_id == mine
    assert beat[0].last_event_id == mine  # a heartbeat never moves the resume point


@pytest.mark.anyio
async def test_heartbeat_zero_turns_them_off(quiet_server: ServerProcess, topic: str) -> None:
    publish(quiet_server.url, topic, "e")
    async with open_stream(quiet_server.url, topic) as stream:
        with pytest.raises(TimeoutError):
            await stream.next(within=0.8)
    assert b"heartbeat" not in stream.raw
