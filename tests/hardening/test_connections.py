"""Slow, silent and oversized connections, forwarded headers, and the access log, for real.

Raw sockets on loopback against a real server process: a head that never ends, one that never
starts, one too large, a slowloris crowd under a low open-files limit, spoofed X-Forwarded-For.
"""

from __future__ import annotations

import asyncio
import json
import resource
import select
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from server.access_log import mask_credentials
from server.connections import GuardedConfig, GuardedHttpToolsProtocol
from tests.hardening.conftest import FIGURES
from tests.server.test_lifecycle import rss_kib
from tests.servers import ServerProcess, read_head

Factory = Callable[..., ServerProcess]
QUIET = ("--no-simulators", "--heartbeat", "0")


def connect(port: int, timeout: float = 8.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def json_error(answer: bytes, status: bytes) -> str:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status), answer[:300]
    assert b"content-type: application/json" in head.lower(), head
    return json.loads(body)["error"]


def test_a_silent_connection_is_closed_after_the_head_deadline(server_factory: Factory) -> None:
    server = server_factory(*QUIET, "--head-timeout", "1")
    silent, partial, served = connect(server.port), connect(server.port), connect(server.port)
    partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # the blank line never comes
    served.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    answer = read_head(served)
    assert answer.startswith(b"HTTP/1.1 200")
    if not answer.endswith(b'"ok"}'):
        served.recv(4096)  # the body
    # A second head on the kept-alive connection: uvicorn's keep-alive timer stops at its first
    # byte; the head deadline does not.
    served.sendall(b"GET /healthz HTTP/1.1\r\n")
    assert silent.recv(4096) == b""  # closed, not answered: it asked nothing
    assert "did not arrive within 1 seconds" in json_error(read_all(partial), b"408")
    assert "did not arrive" in json_error(read_all(served), b"408")
    for sock in (silent, partial, served):
        sock.close()


def test_an_oversized_head_gets_431_json_and_memory_stays_bounded(
        server_factory: Factory) -> None:
    server = server_factory(*QUIET)
    before = rss_kib(server)
    chunk = b"a" * 65536
    heads = []
    for _ in range(8):  # eight heads of 6 MiB, each sent until the server answers
        sock = connect(server.port, timeout=3)
        heads.append(sock)
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ")
            for _ in range(96):
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(chunk)
        except ConnectionError:
            pass  # answered and closed: read below
    grown = rss_kib(server) - before  # while all eight are open
    answers = []
    for sock in heads:
        try:
            answers.append(read_all(sock))
        except (TimeoutError, ConnectionError) as exc:
            answers.append(repr(exc).encode())
        sock.close()
    print(f"RSS grew {grown} KiB for eight 6 MiB request heads")
    FIGURES["RSS growth for eight 6 MiB request heads, KiB"] = grown
    for answer in answers:
        assert "larger than 65536 bytes" in json_error(answer, b"431")
    assert grown < 16 << 10
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_slowloris_beyond_the_pending_cap_leaves_the_server_answering(
        server_factory: Factory) -> None:
    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    # Automatic cap: a quarter of 256 files; 300 slow heads would take every file the server has.
    server = server_factory(*QUIET, preexec_fn=few_files)
    crowd: list[socket.socket] = []
    closed_by_server = 0
    answered = []
    try:
        for round_ in range(4):
            while len(crowd) < 300:  # a slowloris client reopens what the server closed
                try:
                    sock = connect(server.port, timeout=2)
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
                    crowd.append(sock)
                except OSError:
                    closed_by_server += 1
                    break
            for sock in list(crowd):  # one more header line each, never the blank one
                try:
                    sock.sendall(b"X-Slow: %d\r\n" % round_)
                    if select.select([sock], [], [], 0)[0] and not sock.recv(4096):
                        raise ConnectionResetError
                except OSError:
                    closed_by_server += 1
                    crowd.remove(sock)
                    sock.close()
            time.sleep(0.7)
            try:
                answered.append(httpx.get(f"{server.url}/healthz", timeout=3).status_code)
            except httpx.HTTPError as exc:
                answered.append(repr(exc))
    finally:
        for sock in crowd:
            sock.close()
    print(f"/healthz under slowloris: {answered}; crowd connections closed: {closed_by_server}")
    assert answered == [200] * 4
    assert closed_by_server >= 300 - 2 * 64


def test_over_the_pending_cap_the_oldest_go_first_and_a_crowd_is_spared(
        server_factory: Factory) -> None:
    server = server_factory(*QUIET, "--max-pending-connections", "4")
    crowd = [connect(server.port) for _ in range(8)]  # twice the cap, all at once
    for sock in crowd:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert all(read_all(sock).startswith(b"HTTP/1.1 200") for sock in crowd)
    silent = [connect(server.port) for _ in range(8)]
    for sock in silent[:4]:  # the four that waited longest are closed once they waited a second
        assert sock.recv(4096) == b""
    assert not select.select(silent[4:], [], [], 0.5)[0]  # the newest four wait on
    for sock in crowd + silent:
        sock.close()


def test_forwarded_headers_count_only_from_named_proxies(server_factory: Factory) -> None:
    def statuses(server: ServerProcess, forwarded_for: list[str]) -> list[int]:
        with httpx.Client(base_url=server.url) as client:
            return [client.post("/topics/t1/events", json={"event": "e"},
                                headers={"X-Forwarded-For": address}).status_code
                    for address in forwarded_for]

    def stream_head(server: ServerProcess, forwarded_for: str) -> tuple[socket.socket, bytes]:
        sock = connect(server.port)
        sock.sendall(b"GET /stream?topic=t1 HTTP/1.1\r\nHost: t\r\n"
                     b"X-Forwarded-For: %s\r\n\r\n" % forwarded_for.encode())
        return sock, read_head(sock)

    spoofed = [f"10.0.0.{n}" for n in range(8)]
    direct = server_factory(*QUIET, "--publish-rate", "2", "--max-streams-per-client", "1")
    assert statuses(direct, spoofed).count(429) >= 5  # all from 127.0.0.1, whatever they say
    first, head = stream_head(direct, "10.0.1.1")
    assert head.startswith(b"HTTP/1.1 200"), head
    second, head = stream_head(direct, "10.0.1.2")
    assert head.startswith(b"HTTP/1.1 503"), head  # the same client address
    first.close()
    second.close()
    behind = server_factory(*QUIET, "--publish-rate", "2", "--forwarded-allow-ips", "127.0.0.1")
    assert statuses(behind, spoofed) == [201] * 8  # a named proxy: each forwarded client counts
    assert statuses(behind, ["10.0.0.9"] * 4).count(429) >= 1


def test_credential_query_parameters_are_masked_in_the_access_log(
        server_factory: Factory) -> None:
    server = server_factory(*QUIET, "--access-log")
    with httpx.Client(base_url=server.url) as client:
        client.get("/healthz", params={"token": "s3cret-one", "topic": "kept"})
        client.head("/stream", params={"topic": "t1", "access_token": "s3cret-two"})
        client.get("/healthz?api%5Fkey=s3cret-three&X-Amz-Signature=s3cret-four")
    server.terminate()
    log = server.output()
    assert "s3cret" not in log, log
    assert "token=***&topic=kept" in log and "access_token=***" in log, log


def test_mask_credentials_keeps_what_is_no_credential() -> None:
    assert mask_credentials("/stream?topic=a&key=k1&b=2") == "/stream?topic=a&key=***&b=2"
    assert mask_credentials("/p?client_secret=x&refresh_token=y") == \
        "/p?client_secret=***&refresh_token=***"
    assert mask_credentials("/p?tok%65n=x") == "/p?tok%65n=***"
    assert mask_credentials("/p?monkey=1&tokens=2") == "/p?monkey=1&tokens=2"
    assert mask_credentials("/token/path") == "/token/path"


def test_the_open_files_limit_is_raised_to_the_hard_one(server_factory: Factory) -> None:
    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096))

    server = server_factory(*QUIET, preexec_fn=low_soft_limit)
    assert server.proc is not None
    limits = Path(f"/proc/{server.proc.pid}/limits").read_text()
    line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert line.split()[3:5] == ["4096", "4096"], line
    server.terminate()
    assert "the open-files limit is 4096, below the 10064" in server.output()


def test_canary_uvicorn_keeps_the_hooks_the_guard_wraps() -> None:
    # server/connections.py overrides these; if uvicorn renames one, the guard silently stops.
    for hook in ("connection_made", "connection_lost", "data_received", "on_headers_complete",
                 "on_response_complete", "send_400_response"):
        assert hook in vars(HttpToolsProtocol), hook

    async def app(scope: object, receive: object, send: object) -> None:
        pass

    async def protocol() -> GuardedHttpToolsProtocol:
        return GuardedHttpToolsProtocol(config, ServerState(), {})

    config = GuardedConfig(app, log_config=None)
    config.load()
    assert config.http_protocol_class is GuardedHttpToolsProtocol
    made = asyncio.run(protocol())
    assert made.pipeline is not None and made.server_state.default_headers == []
