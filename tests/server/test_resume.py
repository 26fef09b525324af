"""Resume from Last-Event-ID / last_event_id: no gap, no duplicate; every gap case."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from tests.server.helpers import data, open_stream, publish, seq_of
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("via", ["header", "query"])
async def test_resume_while_publishing_has_no_gap_and_no_duplicate(
        server_factory: Callable[..., ServerProcess], via: str) -> None:
    server = server_factory("--no-simulators", "--ticker", "400", "--heartbeat", "0.2")
    seen: list[int] = []
    last_id = None
    async with open_stream(server.url, "ticker") as stream:
        first = await stream.take(5)
    seen += [data(e)["seq"] for e in first]
    last_id = first[-1].last_event_id
    for _ in range(6):  # drop and resume repeatedly while the ticker keeps publishing
        await anyio.sleep(0.05)
        async with open_stream(server.url, "ticker", last_id, via=via) as stream:
            events = await stream.take(30)
        assert all(e.type == "tick" for e in events)  # no gap event
        seen += [data(e)["seq"] for e in events]
        assert [seq_of(e.last_event_id) for e in events] == [data(e)["seq"] for e in events]
        last_id = events[-1].last_event_id
    assert seen == list(range(seen[0], seen[0] + len(seen)))


async def test_no_resume_point_means_live_only(quiet_server: ServerProcess, topic: str) -> None:
    for n in range(3):
        publish(quiet_server.url, topic, "old", n)
    async with open_stream(quiet_server.url, topic) as stream:
        await anyio.sleep(0.2)
        newest = publish(quiet_server.url, topic, "new", 3)
        [event] = await stream.take(1)
    assert (event.type, event.last_event_id) == ("new", newest)


def fill(server: ServerProcess, topic: str, count: int = 10) -> list[str]:
    """Publish `count` events; the server keeps the newest 5."""
    return [publish(server.url, topic, "e", {"n": n}) for n in range(1, count + 1)]


@pytest.mark.parametrize("retained_from", [5, 9, 10])  # just before the oldest, mid, the newest
async def test_resume_within_the_backlog_replays_the_rest(
        quiet_server: ServerProcess, topic: str, retained_from: int) -> None:
    ids = fill(quiet_server, topic)
    async with open_stream(quiet_server.url, topic, ids[retained_from - 1]) as stream:
        replayed = await stream.take(10 - retained_from) if retained_from < 10 else []
        live = publish(quiet_server.url, topic, "live")
        [event] = await stream.take(1)
    assert [e.last_event_id for e in replayed] == ids[retained_from:]
    assert event.last_event_id == live


async def gap_and_replay(server: ServerProcess, topic: str, last_id: str,
                         via: str = "header") -> tuple[dict, str, list[str]]:
    async with open_stream(server.url, topic, last_id, via=via) as stream:
        gap, *replayed = await stream.take(6)
    assert gap.type == "gap"
    return data(gap), gap.last_event_id, [e.last_event_id for e in replayed]


@pytest.mark.parametrize("via", ["header", "query"])
async def test_gap_when_evicted(quiet_server: ServerProcess, topic: str, via: str) -> None:
    ids = fill(quiet_server, topic)
    gap, gap_id, replayed = await gap_and_replay(quiet_server, topic, ids[1], via)
    assert gap == {"topic": topic, "requested": ids[1], "reason": "evicted",
                   "detail": gap["detail"], "resume_from": ids[5], "missed": 3}
    assert gap["detail"]
    assert gap_id == ids[4]  # the resume point just before the replay
    assert replayed == ids[5:]


@pytest.mark.parametrize(("make_id", "reason"), [
    (lambda ids, other: ids[0].split("-")[0] + "-99", "ahead"),
    (lambda ids, other: other, "other-topic"),
    (lambda ids, other: "garbage", "malformed"),
    (lambda ids, other: "0a1b2c3d-1\x01", "malformed"),
    (lambda ids, other: ids[0].upper(), "malformed"),
    (lambda ids, other: ("00000000" if not ids[0].startswith("00000000") else "ffffffff") + "-3",
     "other-run"),
])
async def test_every_gap_reason(quiet_server: ServerProcess, topic: str,
                                make_id: Callable[[list[str], str], str], reason: str) -> None:
    ids = fill(quiet_server, topic)
    other = publish(quiet_server.url, f"{topic}-other", "e")
    requested = make_id(ids, other)
    gap, gap_id, replayed = await gap_and_replay(quiet_server, topic, requested, via="query")
    assert (gap["reason"], gap["requested"], gap["missed"]) == (reason, requested, None)
    assert (gap["resume_from"], gap_id, replayed) == (ids[5], ids[4], ids[5:])


async def test_resuming_from_the_gap_id_gives_no_second_gap(quiet_server: ServerProcess,
                                                             topic: str) -> None:
    ids = fill(quiet_server, topic)
    _, gap_id, _ = await gap_and_replay(quiet_server, topic, "garbage")
    async with open_stream(quiet_server.url, topic, gap_id) as stream:
        replayed = await stream.take(5)
    assert [e.last_event_id for e in replayed] == ids[5:]


async def test_ids_of_an_earlier_run_are_other_run(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory("--no-simulators", "--heartbeat", "0", "--backlog", "5")
    old = fill(server, "restarted", 3)
    server.restart()  # a real new run on the same port: every topic gets a new epoch
    new = fill(server, "restarted", 5)
    gap, gap_id, replayed = await gap_and_replay(server, "restarted", old[-1])
    assert gap["reason"] == "other-run"
    assert replayed == new
    assert seq_of(gap_id) == 0 and gap_id != old[-1]
