"""Fan-out load client: N subscribers to one topic over raw sockets, measured over a window.

Each subscriber is a bare socket on an epoll loop: no SSE parser, no JSON. A regex picks every
`"ts_ns": N` out of whole lines as they arrive (C speed), which is all the figures need: a count
per subscriber and a publish-to-receive latency per event. The client's own CPU use is measured
and reported, so a run whose client was the bottleneck says so.

    python -m bench.load --url http://127.0.0.1:8000 --subs 100 --rate 3000 --seconds 5

Several --url split the subscribers evenly between servers (one topic on a shared backend).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import select
import socket
import time
from array import array
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import quote, urlsplit

from bench.procs import cpu_seconds, raise_nofile_limit, rss_bytes

STAMP = re.compile(rb'"ts_ns":\s*(\d+)')
SEQ = re.compile(rb'"seq":\s*(\d+)')
CONNECT_BATCH = 250  # connections opened before waiting for their heads; under the accept backlog
RECV_SIZE = 1 << 16  # under glibc's mmap threshold: a larger recv buffer costs a mmap per call
KEEP_UP_SHARE = 0.95  # a subscriber keeps up when it receives this share of the target rate
KEEP_UP_LAG_S = 1.0  # ... and is never further than this behind the stream at the end


@dataclass(frozen=True)
class LoadSpec:
    urls: tuple[str, ...]  # subscriber i connects to urls[i % len(urls)]
    topic: str = "ticker"
    subs: int = 100
    seconds: float = 5.0
    rate: float = 0.0  # the rate the server was asked to publish (0: idle stream)
    procs: int = 1  # client processes; the subscribers are split between them
    warmup: float = 1.0  # seconds between all connected and the window opening


@dataclass
class LoadResult:
    spec: dict[str, Any]
    connected: int
    failed: int  # could not connect, or a status other than 200
    dropped: int  # closed by the server during the window
    deliveries_per_s: float
    slowest_per_s: float
    # seq per second of publish time over the events seen: the publish rate when subscribers keep
    # up; when they lag it covers a shorter, possibly bursty, stretch (not shown in tables)
    published_per_s: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None
    end_lag_ms: float | None  # the slowest subscriber's distance behind the stream at the end
    silent_subs: int  # subscribers that received nothing at all during the window
    kept_up: bool
    client_cpu: float  # share of one core the client processes used during the window
    server_cpu: float | None  # same, for the server (all its processes, summed)
    server_cpus: list[float]  # each server process's share, in the order given
    server_rss_start: int | None
    server_rss_end: int | None
    errors: list[str] = field(default_factory=list)


class Window:
    """The measurement window one client process shares among its subscribers."""

    def __init__(self) -> None:
        self.recording = False
        self.latencies = array("q")
        # (seq, ts_ns) of the first and the newest event seen while recording: the server's own
        # account of how fast it published
        self.first: tuple[int, int] | None = None
        self.newest: tuple[int, int] = (0, 0)


class Subscriber:
    """One `GET /stream` connection; counts events and records their latency while recording."""

    def __init__(self, sock: socket.socket, window: Window) -> None:
        self.sock = sock
        self.window = window
        self.head: bytes | None = b""  # None once the response head has been read
        self.tail = b""  # an unfinished line, kept until its newline arrives
        self.status = 0
        self.events = 0
        self.chunks = 0
        self.last_stamp = 0
        self.closed = False

    def feed(self, data: bytes) -> None:
        self.chunks += 1
        if self.head is not None:
            data = self._read_head(data)
            if not data:
                return
        lines = self.tail + data
        cut = lines.rfind(b"\n") + 1
        self.tail = lines[cut:]
        stamps = STAMP.findall(lines, 0, cut)
        if not stamps:
            return
        self.events += len(stamps)
        self.last_stamp = int(stamps[-1])
        window = self.window
        if window.recording:
            now = time.time_ns()
            window.latencies.extend([now - int(stamp) for stamp in stamps])
            if self.last_stamp > window.newest[1]:
                seq = SEQ.search(lines, max(0, lines.rfind(b'"seq"', 0, cut)), cut)
                if seq:
                    window.newest = (int(seq[1]), self.last_stamp)
                    window.first = window.first or window.newest

    def _read_head(self, data: bytes) -> bytes:
        assert self.head is not None
        head = self.head + data
        end = head.find(b"\r\n\r\n")
        if end < 0:
            self.head = head
            return b""
        self.status = int(head.split(b" ", 2)[1])
        self.head = None
        return head[end + 4 :]


def _target(url: str, topic: str) -> tuple[tuple[str, int], bytes]:
    """The address to connect to, and the request to send there."""
    parts = urlsplit(url)
    request = (f"GET /stream?topic={quote(topic)} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n").encode()
    return (parts.hostname or "127.0.0.1", parts.port or 80), request


class Client:
    """One client process's subscribers on a bare epoll loop: no asyncio, whose per-callback
    cost would make the client, not the server, the bottleneck."""

    def __init__(self, spec: LoadSpec, count: int) -> None:
        self.spec = spec
        self.count = count
        self.window = Window()
        self.poll = select.epoll()
        self.subs: dict[int, Subscriber] = {}
        self.errors: set[str] = set()

    def pump(self, timeout: float) -> None:
        """Read whatever arrives for up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for fd, _ in self.poll.poll(left):
                sub = self.subs[fd]
                try:
                    data = sub.sock.recv(RECV_SIZE)
                except OSError as error:
                    self.errors.add(repr(error))
                    data = b""
                if data:
                    sub.feed(data)
                else:
                    self._close(sub)

    def _close(self, sub: Subscriber) -> None:
        sub.closed = True
        self.poll.unregister(sub.sock)
        del self.subs[sub.sock.fileno()]
        sub.sock.close()

    def open(self, batch_timeout: float = 20.0) -> list[Subscriber]:
        """Connect every subscriber (a bounded number at a time) and read their response heads."""
        targets = [_target(url, self.spec.topic) for url in self.spec.urls]
        opened: list[Subscriber] = []
        for first in range(0, self.count, CONNECT_BATCH):
            deadline = time.monotonic() + batch_timeout
            batch = []
            for index in range(first, min(first + CONNECT_BATCH, self.count)):
                address, request = targets[index % len(targets)]
                try:
                    sock = socket.create_connection(address, timeout=10)
                    sock.sendall(request)
                    sock.setblocking(False)
                except OSError as error:
                    self.errors.add(repr(error))
                    continue
                sub = Subscriber(sock, self.window)
                self.subs[sock.fileno()] = sub
                self.poll.register(sock, select.EPOLLIN)
                batch.append(sub)
            while any(sub.head is not None and not sub.closed for sub in batch):
                if time.monotonic() > deadline:
                    break
                self.pump(0.05)
            for sub in batch:
                if sub.status == 200 and not sub.closed:
                    opened.append(sub)
                else:
                    self.errors.add(f"HTTP {sub.status}" if sub.status else "no response head")
                    if not sub.closed:
                        self._close(sub)
        return opened


def _client_process(spec: LoadSpec, count: int, pipe: Connection) -> None:
    """One client process: connect, report ready, measure the window the parent names, report."""
    raise_nofile_limit()
    client = Client(spec, count)
    subs = client.open()
    pipe.send(len(subs))
    while not pipe.poll(0):
        client.pump(0.02)  # keep reading while the other client processes connect
    start_at: float = pipe.recv()
    client.pump(start_at - time.time())
    before = [(sub.events, sub.chunks) for sub in subs]
    cpu_before = time.process_time()
    client.window.recording = True
    client.pump(spec.seconds)
    client.window.recording = False
    cpu = (time.process_time() - cpu_before) / spec.seconds
    now_ns = time.time_ns()
    window = client.window
    pipe.send({
        "events": [sub.events - b[0] for sub, b in zip(subs, before, strict=True)],
        "silent": sum(sub.chunks == b[1] for sub, b in zip(subs, before, strict=True)),
        "dropped": sum(sub.closed for sub in subs),
        "lags": [now_ns - sub.last_stamp for sub in subs if sub.last_stamp],
        "first": window.first,
        "newest": window.newest,
        "cpu": cpu,
        "errors": sorted(client.errors),
        "failed": count - len(subs),
    })
    pipe.send_bytes(window.latencies.tobytes())
    while not pipe.poll(0):  # hold the connections until the parent has read the server
        client.pump(0.02)


def _percentile(ordered: array, share: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1e6


def _server_sample(pids: Sequence[int]) -> tuple[list[float], int] | None:
    """CPU seconds of each server process, and their RSS summed."""
    if not pids:
        return None
    return [cpu_seconds(pid) for pid in pids], sum(rss_bytes(pid) for pid in pids)


def run_load(spec: LoadSpec, server_pids: Sequence[int] = ()) -> LoadResult:
    """Run the client processes against servers already running; return the figures.

    `server_pids`: the processes whose CPU and RSS count as the server's (with Redis, its too).
    """
    context = multiprocessing.get_context("spawn")
    shares = [spec.subs // spec.procs + (i < spec.subs % spec.procs) for i in range(spec.procs)]
    pipes, workers = [], []
    for share in shares:
        here, there = context.Pipe()
        worker = context.Process(target=_client_process, args=(spec, share, there), daemon=True)
        worker.start()
        pipes.append(here)
        workers.append(worker)
    try:
        connected = sum(pipe.recv() for pipe in pipes)
        start_at = time.time() + spec.warmup
        for pipe in pipes:
            pipe.send(start_at)
        time.sleep(max(0.0, start_at - time.time()))
        server = _server_sample(server_pids)
        reports = [pipe.recv() for pipe in pipes]
        server_end = _server_sample(server_pids)
        latencies = array("q")
        for pipe in pipes:
            latencies.frombytes(pipe.recv_bytes())
        for pipe in pipes:
            pipe.send("done")
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
    return _summarise(spec, connected, reports, array("q", sorted(latencies)), server, server_end)


def _summarise(spec: LoadSpec, connected: int, reports: list[dict[str, Any]], latencies: array,
               server: tuple[list[float], int] | None,
               server_end: tuple[list[float], int] | None) -> LoadResult:
    events = [n for report in reports for n in report["events"]]
    lags = [lag for report in reports for lag in report["lags"]]
    seconds = spec.seconds
    slowest = min(events) / seconds if events else 0.0
    end_lag = max(lags) / 1e6 if lags else None
    dropped = sum(report["dropped"] for report in reports)
    failed = sum(report["failed"] for report in reports)
    cpus = [(end - start) / seconds for start, end in zip(server[0], server_end[0], strict=True)
            ] if server and server_end else []
    kept_up = (
        spec.rate > 0 and failed == 0 and dropped == 0 and end_lag is not None
        and slowest >= KEEP_UP_SHARE * spec.rate and end_lag <= KEEP_UP_LAG_S * 1000
    )
    return LoadResult(
        spec=asdict(spec),
        connected=connected,
        failed=failed,
        dropped=dropped,
        deliveries_per_s=sum(events) / seconds,
        slowest_per_s=slowest,
        published_per_s=_publish_rate(reports),
        latency_p50_ms=_percentile(latencies, 0.50),
        latency_p99_ms=_percentile(latencies, 0.99),
        latency_max_ms=latencies[-1] / 1e6 if latencies else None,
        end_lag_ms=end_lag,
        silent_subs=sum(report["silent"] for report in reports),
        kept_up=kept_up,
        client_cpu=sum(report["cpu"] for report in reports),
        server_cpu=sum(cpus) if cpus else None,
        server_cpus=cpus,
        server_rss_start=server[1] if server else None,
        server_rss_end=server_end[1] if server_end else None,
        errors=sorted({e for report in reports for e in report["errors"]}),
    )


def _publish_rate(reports: list[dict[str, Any]]) -> float | None:
    """Events the server published per second in the window: seq and ts_ns are its own clock."""
    firsts = [report["first"] for report in reports if report["first"]]
    if not firsts:
        return None
    first_seq, first_stamp = min(firsts, key=lambda pair: pair[1])
    seq, stamp = max((report["newest"] for report in reports), key=lambda pair: pair[1])
    return (seq - first_seq) / (stamp - first_stamp) * 1e9 if stamp > first_stamp else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, action="append",
                        help="server base URL, e.g. http://127.0.0.1:8000; repeat to split the "
                             "subscribers between servers")
    parser.add_argument("--topic", default="ticker")
    parser.add_argument("--subs", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0.0, help="the server's --ticker RATE")
    parser.add_argument("--procs", type=int, default=1, help="client processes")
    parser.add_argument("--server-pid", type=int, action="append", default=[],
                        help="read the server's CPU and RSS from /proc; repeat to sum processes")
    args = parser.parse_args()
    spec = LoadSpec(urls=tuple(args.url), topic=args.topic, subs=args.subs, seconds=args.seconds,
                    rate=args.rate, procs=args.procs)
    print(json.dumps(asdict(run_load(spec, args.server_pid)), indent=2))


if __name__ == "__main__":
    main()
