"""Disconnects, slow readers and SIGTERM, each done for real against a server process."""

from __future__ import annotations

import signal
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest

from tests.server.helpers import publish, raw_stream_socket, subscribers, wait_for
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio
Factory = Callable[..., ServerProcess]


def rss_kib(server: ServerProcess) -> int:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def assert_clean_exit(server: ServerProcess) -> None:
    elapsed = server.terminate()
    output = server.output()
    # uvicorn re-raises the SIGTERM it handled once shut down, as the conventional exit status
    assert server.proc is not None and server.proc.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output and "ERROR" not in output, output
    assert elapsed < 5


async def test_quiet_disconnects_are_noticed(server_factory: Factory, topic: str) -> None:
    server = server_factory("--no-simulators", "--heartbeat", "0")
    publish(server.url, topic, "e")
    sockets = [raw_stream_socket(server.port, topic) for _ in range(5)]
    await wait_for(lambda: subscribers(server.url, topic) == 5)
    for sock in sockets:
        sock.close()  # nothing flows on the topic: only the disconnect itself can tell
    await wait_for(lambda: subscribers(server.url, topic) == 0, within=2)
    assert_clean_exit(server)


async def test_abrupt_disconnects_under_load(server_factory: Factory) -> None:
    server = server_factory("--no-simulators", "--ticker", "1000", "--heartbeat", "0.2")
    sockets = [raw_stream_socket(server.port, "ticker") for _ in range(20)]
    await wait_for(lambda: subscribers(server.url, "ticker") == 20)
    await anyio.sleep(0.3)
    for sock in sockets:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST with unread data pending
    await wait_for(lambda: subscribers(server.url, "ticker") == 0, within=2)
    assert_clean_exit(server)


async def test_a_reader_that_stops_is_dropped_and_memory_stays_bounded(
        server_factory: Factory, topic: str) -> None:
    server = server_factory("--no-simulators", "--heartbeat", "0", "--backlog", "10",
                            "--queue-bytes", "800000", "--max-event-bytes", "200000")
    publish(server.url, topic, "e")
    stalled = raw_stream_socket(server.port, topic, rcvbuf=4096)  # reads nothing from now on
    await wait_for(lambda: subscribers(server.url, topic) == 1)
    before = rss_kib(server)
    blob = "x" * 100_000
    async with httpx.AsyncClient(timeout=5) as client:
        for n in range(400):  # 40 MB, far beyond socket buffers and the subscriber's queue
            response = await client.post(f"{server.url}/topics/{topic}/events",
                                   json={"event": "blob", "data": {"n": n, "blob": blob}})
            assert response.status_code == 201
    await wait_for(lambda: subscribers(server.url, topic) == 0, within=3)
    grown_mib = (rss_kib(server) - before) / 1024
    assert grown_mib < 20, f"server grew by {grown_mib:.1f} MiB for one stalled reader"
    # the server really closed that connection: reading on, it ends (EOF or reset)
    stalled.settimeout(5)
    with pytest.raises(ConnectionResetError):
        while stalled.recv(1 << 20):
            pass
        raise ConnectionResetError("EOF")
    stalled.close()


async def test_sigterm_with_hundreds_of_streams_exits_promptly(server_factory: Factory) -> None:
    server = server_factory("--heartbeat", "0.2", "--speed", "5")
    topics = ["progress", "logs", "tokens"]
    sockets = [raw_stream_socket(server.port, topics[n % 3]) for n in range(210)]
    await wait_for(lambda: sum(subscribers(server.url, t) for t in topics) == 210, within=10)
    started = time.monotonic()
    assert_clean_exit(server)
    assert time.monotonic() - started < 2.5
    for sock in sockets:
        sock.settimeout(2)
        with pytest.raises(ConnectionResetError):
            while sock.recv(65536):
                pass
            raise ConnectionResetError("EOF")  # the stream ended, cleanly or not
        sock.close()
