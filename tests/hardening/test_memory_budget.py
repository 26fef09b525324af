"""The server's memory is bounded in bytes: the backlog by its budgets, a resumer by its queue.

Every figure is the real server process's VmRSS, printed; bounds come from the budgets.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable

import httpx
import pytest

from server.settings import ServerSettings
from tests.hardening.conftest import FIGURES
from tests.hardening.test_metrics import scrape, value
from tests.server.helpers import data, open_stream, publish, subscribers, topic_info, wait_for
from tests.server.test_lifecycle import rss_kib
from tests.servers import ServerProcess, read_head

pytestmark = pytest.mark.anyio
Factory = Callable[..., ServerProcess]
MiB = 1 << 20
QUIET = ("--no-simulators", "--heartbeat", "0", "--publish-rate", "0")
BLOB = 200_000  # bytes of data per large event: within the largest event, then and now
TOPIC_BUDGET = 8 * MiB  # the default --backlog-bytes
QUEUE = 1 * MiB  # the default --queue-bytes


async def flood(base: str, topics: list[str], count: int, blob: int = BLOB) -> list[str]:
    """`count` large events to each of `topics`, in turn; their ids."""
    ids = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for n in range(count):
            for topic in topics:
                body = {"event": "blob", "data": {"n": n, "blob": "x" * blob}}
                answer = await client.post(f"/topics/{topic}/events", json=body)
                assert answer.status_code == 201, answer.text
                ids.append(answer.json()["id"])
    return ids


def retained_events(base: str) -> dict[str, int]:
    """Events retained per topic, as GET /topics says."""
    return {row["name"]: row["backlog"] for row in httpx.get(f"{base}/topics").json()["topics"]}


def note(name: str, kib: float) -> None:
    print(f"{name}: {kib / 1024:.1f}")
    FIGURES[name] = round(kib / 1024, 1)


async def test_a_flood_of_large_events_grows_the_server_by_one_topic_budget(
        server_factory: Factory) -> None:
    server = server_factory(*QUIET)
    await flood(server.url, ["warm"], 10)  # the allocator's first arenas, not the backlog
    before = rss_kib(server)
    await flood(server.url, ["flood"], 250)  # 50 MB from one client
    grown = rss_kib(server) - before
    note("RSS growth after 50 MB of events to one topic (MiB)", grown)
    assert grown < (TOPIC_BUDGET + 24 * MiB) / 1024, f"grew by {grown / 1024:.1f} MiB"
    retained = topic_info(server.url, "flood")["backlog"]
    assert 0 < retained * BLOB <= TOPIC_BUDGET


async def test_over_the_process_budget_the_largest_topic_gives_way(
        server_factory: Factory) -> None:
    server = server_factory(*QUIET, "--backlog-bytes", str(4 * MiB),
                            "--total-backlog-bytes", str(12 * MiB))
    await flood(server.url, ["quiet"], 3)
    await flood(server.url, ["warm"], 10)
    before = rss_kib(server)
    await flood(server.url, [f"busy{n}" for n in range(8)], 20)  # 32 MB over 8 topics
    grown = rss_kib(server) - before
    note("RSS growth after 32 MB of events to 8 topics, 12 MiB budget (MiB)", grown)
    assert grown < (12 + 24) * MiB / 1024, f"grew by {grown / 1024:.1f} MiB"
    backlogs = retained_events(server.url)
    assert backlogs["quiet"] == 3  # the small topic kept its history
    assert sum(backlogs.values()) * BLOB <= 12 * MiB


async def test_eviction_by_bytes_gives_the_evicted_gap_with_what_was_missed(
        server_factory: Factory) -> None:
    server = server_factory(*QUIET)
    ids = await flood(server.url, ["big"], 60)  # 12 MB: beyond a topic's budget, within 1000
    async with open_stream(server.url, "big", ids[0]) as stream:
        gap = (await stream.take(1))[0]
        assert gap.type == "gap", gap
        detail = json.loads(gap.data)
        assert detail["reason"] == "evicted" and detail["requested"] == ids[0]
        missed = detail["missed"]
        retained = 59 - missed
        assert retained > 0 and retained * BLOB <= TOPIC_BUDGET
        assert detail["resume_from"] == ids[1 + missed]
        assert gap.last_event_id == ids[missed]  # resuming from it replays exactly the rest
        events = await stream.take(retained, within=20)
    assert [data(event)["n"] for event in events] == list(range(1 + missed, 60))


def stalled_resumer(port: int, topic: str, last_id: str) -> tuple[socket.socket, bytes]:
    """A resume request whose client then reads nothing at all; the body bytes read with the
    response head."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /stream?topic={topic} HTTP/1.1\r\nHost: test\r\n"
                 f"Last-Event-ID: {last_id}\r\n\r\n".encode())
    head = read_head(sock, 256)
    assert head.startswith(b"HTTP/1.1 200")
    return sock, head.partition(b"\r\n\r\n")[2]


async def test_stalled_resumers_over_a_big_backlog_each_cost_at_most_a_queue(
        server_factory: Factory) -> None:
    server = server_factory(*QUIET, "--write-timeout", "0", "--send-buffer", "65536")
    ids = await flood(server.url, ["deep"], 38)  # 7.6 MB: all retained, then and now
    before = rss_kib(server)
    resumers = [stalled_resumer(server.port, "deep", ids[0]) for _ in range(15)]
    await wait_for(lambda: subscribers(server.url, "deep") == 15)
    await asyncio.sleep(1)  # what each would hold, it holds by now
    grown = rss_kib(server) - before
    note("RSS growth for 15 resumers stalled over a 7.6 MB backlog (MiB)", grown)
    assert grown < (15 * QUEUE + 24 * MiB) / 1024, f"grew by {grown / 1024:.1f} MiB"
    for sock, _ in resumers:
        sock.close()


async def test_a_resumer_left_behind_by_the_backlog_is_dropped_and_resumes_with_a_gap(
        server_factory: Factory) -> None:
    # A queue that holds everything published meanwhile: only the backlog moving on drops it.
    server = server_factory(*QUIET, "--write-timeout", "0", "--send-buffer", "65536",
                            "--queue-bytes", str(16 * MiB))
    ids = await flood(server.url, ["moving"], 38)  # 7.6 MB: far beyond the socket buffers
    resumer, body = stalled_resumer(server.port, "moving", ids[0])
    await wait_for(lambda: subscribers(server.url, "moving") == 1)
    ids += await flood(server.url, ["moving"], 20)  # evicts the 20 oldest, the page it is at
    received = bytearray(body)
    with pytest.raises(OSError):  # reading again, it learns it was dropped
        while chunk := resumer.recv(1 << 16):
            received += chunk
        raise ConnectionResetError("EOF")
    resumer.close()
    assert value(scrape(server), "sse_slow_subscriber_drops_total", topic="moving",
                 reason="overflow") == 1
    seen = [line.split(b": ", 1)[1].decode() for line in received.split(b"\n")
            if line.startswith(b"id: ")]
    assert seen == ids[1:1 + len(seen)] and len(seen) < 20
    async with open_stream(server.url, "moving", seen[-1]) as resumed:
        gap = (await resumed.take(1))[0]
    detail = json.loads(gap.data)
    assert gap.type == "gap" and detail["reason"] == "evicted", gap
    assert detail["resume_from"] == ids[1 + len(seen) + detail["missed"]]


def read_until(sock: socket.socket, frames: bytes, count: int) -> bytes:
    """Everything received until `frames` occurred `count` times (or the peer closed)."""
    received = bytearray()
    while received.count(frames) < count and (chunk := sock.recv(1 << 20)):
        received += chunk
    return bytes(received)


async def test_a_reader_keeping_up_with_the_largest_events_is_not_dropped(
        server_factory: Factory) -> None:
    server = server_factory(*QUIET)
    largest = ServerSettings().max_event_bytes
    body = json.dumps({"event": "max", "data": "x" * (largest - 100)}).encode()
    assert len(body) <= largest
    publish(server.url, "full", "start")
    reader = socket.create_connection(("127.0.0.1", server.port))
    reader.settimeout(30)
    reader.sendall(b"GET /stream?topic=full HTTP/1.1\r\nHost: test\r\n\r\n")
    assert read_head(reader).startswith(b"HTTP/1.1 200")
    # The reader reads in a thread of its own: nothing in this loop delays it.
    read = asyncio.get_running_loop().run_in_executor(None, read_until, reader,
                                                      b"event: max\n", 60)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

        async def publisher() -> None:
            for _ in range(15):
                answer = await client.post("/topics/full/events", content=body,
                                           headers={"Content-Type": "application/json"})
                assert answer.status_code == 201, answer.text

        await asyncio.gather(*(publisher() for _ in range(4)))
    received = await read
    reader.close()
    assert received.count(b"event: max\n") == 60
    assert value(scrape(server), "sse_slow_subscriber_drops_total", topic="full",
                 reason="overflow") == 0


@pytest.mark.parametrize(("flags", "message"), [
    (("--queue-bytes", "1000000", "--max-event-bytes", "300000"), "at least 4 times the largest"),
    (("--backlog-bytes", "100000", "--max-event-bytes", "200000"), "must hold the largest event"),
    (("--backlog-bytes", str(64 * MiB), "--total-backlog-bytes", str(32 * MiB)),
     "must hold a topic's"),
])
def test_budgets_that_contradict_each_other_are_refused_at_start(
        flags: tuple[str, ...], message: str) -> None:
    with pytest.raises(RuntimeError, match=message) as refused:
        ServerProcess(*QUIET, *flags).start()
    assert "Traceback" not in str(refused.value)
