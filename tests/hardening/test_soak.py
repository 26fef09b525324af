"""Soak: a few hundred subscribers through server SIGKILLs and restarts, dropped connections and
slow readers. Every client must end with every event still in the backlog exactly once and in
order, with a `gap` wherever it could not (another server run), and the server's memory must
come back to its baseline once they are gone.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from collections.abc import Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import pytest

from monitor.client.events import Event, Gap
from monitor.client.stream import SSEStream, StreamConfig, with_topic
from tests.hardening.conftest import FIGURES
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio
Factory = Callable[..., ServerProcess]

TICKER_SUBSCRIBERS = 270  # raw sockets on the ticker topic (small events, 25/s)
BULK_SUBSCRIBERS = 24  # raw sockets on `bulk` (50 KB events, 10/s): a quarter of them stall
MONITOR_STREAMS = 8  # the monitor's own SSEStream on ticker (a 404 before `bulk` exists would
# rightly stop it), resuming by itself
KILLS = 4
RUN_SECONDS = 5.0
BULK_BYTES = 50_000
SERVER_ARGS = ("--no-simulators", "--ticker", "25", "--heartbeat", "0.5", "--retry-ms", "200",
               "--backlog", "20000", "--queue-bytes", "262144", "--write-timeout", "1",
               "--max-event-bytes", "65536",
               "--send-buffer", "65536")  # else MiBs of a pausing reader vanish into the kernel
Record = tuple  # (epoch, seq) of an event, or ("gap", reason, gap id, requested id)


@dataclass
class Client:
    """One subscriber's log of what it received, checked at the end."""

    topic: str
    calm: asyncio.Event = field(default_factory=asyncio.Event)  # set: stop misbehaving, catch up
    log: list[Record] = field(default_factory=list)
    last_id: str | None = None
    connections: int = 0

    def note_event(self, event_id: str) -> None:
        epoch, _, seq = event_id.partition("-")
        self.log.append((epoch, int(seq)))
        self.last_id = event_id

    def note_gap(self, reason: str, gap_id: str, requested: str | None) -> None:
        self.log.append(("gap", reason, gap_id, requested))
        self.last_id = gap_id

    def position(self) -> tuple[str, int] | None:
        return next((record for record in reversed(self.log)
                     if record[0] not in ("gap", "connected")), None)


class Dechunker:
    """The body of a `Transfer-Encoding: chunked` response, fed as it comes."""

    def __init__(self) -> None:
        self._buffer = b""
        self._size: int | None = None

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        body = []
        while True:
            if self._size is None:
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    break
                self._size = int(self._buffer[:end].split(b";")[0], 16)
                self._buffer = self._buffer[end + 2:]
            if len(self._buffer) < self._size + 2:
                break
            body.append(self._buffer[:self._size])
            self._buffer, self._size = self._buffer[self._size + 2:], None
        return b"".join(body)


class RawSubscriber(Client):
    """A bare-socket SSE client: cheap enough for hundreds in one test process."""

    def __init__(self, topic: str, port: int, rng: random.Random, kind: str) -> None:
        super().__init__(topic)
        self.port, self.rng, self.kind = port, rng, kind

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with suppress(OSError, asyncio.IncompleteReadError, TimeoutError):
                await self._connection(stop)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1 + self.rng.random() * 0.3)

    async def _connection(self, stop: asyncio.Event) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        if self.kind == "slow":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        try:
            resume = f"Last-Event-ID: {self.last_id}\r\n" if self.last_id else ""
            writer.write(f"GET /stream?topic={self.topic} HTTP/1.1\r\nHost: soak\r\n"
                         f"Connection: close\r\n{resume}\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            if not head.startswith(b"HTTP/1.1 200"):
                return
            chunked = Dechunker() if b"transfer-encoding: chunked" in head.lower() else None
            self.connections += 1
            self.log.append(("connected", self.last_id, time.monotonic()))
            drop_at = time.monotonic() + self.rng.uniform(1, 4) if self.kind == "dropper" else None
            buffer = b""
            while not stop.is_set():
                if self.kind == "slow" and not self.calm.is_set() and self.rng.random() < 0.05:
                    await asyncio.sleep(self.rng.uniform(3, 5))  # MBs wait: it will be dropped
                chunk = await reader.read(65536)
                if not chunk:
                    return
                buffer = self._parse(buffer + (chunked.feed(chunk) if chunked else chunk))
                if drop_at is not None and time.monotonic() > drop_at and not self.calm.is_set():
                    return  # drops the connection, then resumes
        finally:
            writer.transport.abort()

    def _parse(self, buffer: bytes) -> bytes:
        *frames, rest = buffer.split(b"\n\n")
        for frame in frames:
            if not frame.startswith(b"id: "):
                continue  # retry: and heartbeats, which carry no id
            end = frame.index(b"\n")
            event_id = frame[4:end].decode()
            if frame.startswith(b"event: gap\n", end + 1):
                gap = json.loads(frame[frame.index(b"\ndata: ") + 7:])
                self.note_gap(gap["reason"], event_id, gap["requested"])
            else:
                self.note_event(event_id)
        return rest


class MonitorSubscriber(Client):
    """The monitor's SSEStream: its own reconnects, back-off and resume; dropped now and then."""

    def __init__(self, topic: str, url: str, rng: random.Random) -> None:
        super().__init__(topic)
        self.rng = rng
        self.stream = SSEStream(StreamConfig(url=with_topic(f"{url}/stream", topic),
                                             reconnect_delay=0.2, max_backoff=1.0))

    async def run(self, stop: asyncio.Event) -> None:
        async def drop_now_and_then() -> None:
            while not stop.is_set():
                await asyncio.sleep(self.rng.uniform(2, 5))
                if not self.calm.is_set():
                    self.stream.reconnect()

        dropper = asyncio.create_task(drop_now_and_then())
        stopper = asyncio.create_task(stop.wait())
        stopper.add_done_callback(lambda _: self.stream.stop("soak over"))
        try:
            async with aclosing(self.stream.items()) as items:
                async for item in items:
                    if isinstance(item, Event) and item.type != "gap":
                        self.note_event(item.id)
                    elif isinstance(item, Gap):
                        self.note_gap(item.reason, item.id, item.requested)
        finally:
            dropper.cancel()
            stopper.cancel()
        self.connections = self.stream.stats.reconnects + 1


def check(client: Client) -> tuple[int, int, int]:
    """(events checked, events lost, server runs seen) of one client's log.

    Within a run every event must follow the one before (a jump is a loss, a repeat or step back
    a duplicate: both fail); a new run must be announced by an `other-run` gap and then replayed
    from its first event, as the backlog still holds it all.
    """
    epoch, seq, checked, lost, runs = None, 0, 0, 0, 0
    previous: Record | None = None
    for index, record in enumerate(client.log):
        where = (f"{type(client).__name__} {getattr(client, 'kind', '')} on {client.topic}: "
                 f"{client.log[max(0, index - 4):index + 2]}")
        if record[0] == "connected":
            continue
        if record[0] == "gap":
            _, reason, gap_id, requested = record
            assert reason == "other-run", where
            assert requested == f"{epoch}-{seq}", where
            assert gap_id.endswith("-0"), where  # nothing of the new run is missing
        elif record[0] == epoch:
            assert record[1] > seq, f"duplicate or out of order: {where}"
            lost += record[1] - seq - 1
            seq = record[1]
            checked += 1
        else:
            if epoch is not None:
                assert previous is not None and previous[0] == "gap", f"unannounced run: {where}"
                lost += record[1] - 1
            epoch, seq, runs = record[0], record[1], runs + 1
            checked += 1
        previous = record
    return checked, lost, runs


def rss_kib(server: ServerProcess) -> int:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


async def newest_seq(http: httpx.AsyncClient) -> dict[str, tuple[str, int]]:
    rows = (await http.get("/topics")).json()["topics"]
    return {row["name"]: (row["newest_id"].split("-")[0], int(row["newest_id"].split("-")[1]))
            for row in rows if row["newest_id"]}


async def caught_up(clients: list[Client], http: httpx.AsyncClient, within: float) -> None:
    """Wait until every client has the topic's newest event of now (of this server run)."""
    target = await newest_seq(http)
    deadline = time.monotonic() + within
    while True:
        behind = [c for c in clients
                  if (p := c.position()) is None or p[0] != target[c.topic][0]
                  or p[1] < target[c.topic][1]]
        if not behind:
            return
        assert time.monotonic() < deadline, (
            f"{len(behind)} clients behind {target}: e.g. {behind[0].topic} at "
            f"{behind[0].position()}")
        await asyncio.sleep(0.2)


async def publish_bulk(url: str, stop: asyncio.Event) -> None:
    """10 large events a second to `bulk`, through kills (refused publishes are simply retried)."""
    blob = "b" * BULK_BYTES
    async with httpx.AsyncClient(base_url=url, timeout=2) as http:
        n = 0
        while not stop.is_set():
            with suppress(httpx.HTTPError):
                await http.post("/topics/bulk/events", json={"event": "bulk", "data": [n, blob]})
                n += 1
            await asyncio.sleep(0.1)


async def wave(clients: list[Client], seconds: float, server: ServerProcess | None = None,
               kills: int = 0) -> None:
    """Run every client (and the bulk publisher) for `seconds`, killing the server `kills` times,
    then wait until all have caught up with the server's current run, and stop them."""
    stop, calm = asyncio.Event(), asyncio.Event()
    for client in clients:
        client.calm = calm
    url = f"http://127.0.0.1:{server.port}" if server else ""
    tasks = [asyncio.create_task(client.run(stop)) for client in clients]
    tasks.append(asyncio.create_task(publish_bulk(url, stop)))
    try:
        for _ in range(kills):
            await asyncio.sleep(seconds)
            await asyncio.to_thread(server.kill)  # SIGKILL, mid-stream
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.start)
            FIGURES["server kills survived"] += 1
        await asyncio.sleep(seconds)
        calm.set()
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            await caught_up(clients, http, within=30)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)


async def all_closed(server: ServerProcess, within: float = 10) -> None:
    """Wait until the server's /metrics shows no open stream."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        with anyio.fail_after(within):
            while True:
                text = (await http.get("/metrics")).text
                if not any(line.startswith("sse_open_streams{") and not line.endswith(" 0.0")
                           for line in text.splitlines()):
                    return
                await anyio.sleep(0.1)


async def test_soak_kills_drops_and_slow_readers(server_factory: Factory) -> None:
    server = server_factory(*SERVER_ARGS)
    kinds = ["steady", "steady", "dropper", "slow"]
    clients: list[Client] = [
        RawSubscriber("ticker", server.port, random.Random(n), kinds[n % 3])  # no slow on ticker
        for n in range(TICKER_SUBSCRIBERS)]
    clients += [RawSubscriber("bulk", server.port, random.Random(1000 + n), kinds[n % 4])
                for n in range(BULK_SUBSCRIBERS)]
    clients += [MonitorSubscriber("ticker", server.url, random.Random(2000 + n))
                for n in range(MONITOR_STREAMS)]

    await wave(clients, RUN_SECONDS, server, kills=KILLS)
    await all_closed(server)
    baseline = rss_kib(server)
    async with httpx.AsyncClient(base_url=server.url) as http:
        bulk_before = (await newest_seq(http))["bulk"][1]

    # The same subscribers again on the last run: resume without a gap, then leave.
    await wave(clients, RUN_SECONDS, server)
    await all_closed(server)
    async with httpx.AsyncClient(base_url=server.url) as http:
        metrics = (await http.get("/metrics")).text
        retained = ((await newest_seq(http))["bulk"][1] - bulk_before) * BULK_BYTES
    # what the backlog rightly gained meanwhile is no leak
    grown_mib = (rss_kib(server) - baseline - retained / 1024) / 1024

    checked = [check(client) for client in clients]
    FIGURES["subscribers"] = len(clients)
    FIGURES["events checked (exactly once, in order)"] += sum(n for n, _, _ in checked)
    FIGURES["events lost"] += sum(lost for _, lost, _ in checked)
    FIGURES["reconnects"] += sum(client.connections for client in clients)
    drops = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                if line.startswith("sse_slow_subscriber_drops_total{"))
    FIGURES["slow readers dropped (last run)"] += int(drops)
    FIGURES["server memory growth after the last wave (MiB)"] = round(grown_mib, 1)
    FIGURES["server runs per subscriber (max)"] = max(runs for _, _, runs in checked)
    assert FIGURES["events lost"] == 0
    # a client may sleep through a whole short run; every one reached the last (caught_up)
    assert all(runs >= 2 for _, _, runs in checked)
    assert max(runs for _, _, runs in checked) == KILLS + 1
    assert drops > 0, "no slow reader was dropped: the soak did not exercise that path"
    assert grown_mib < 16, f"server memory grew by {grown_mib:.1f} MiB"
