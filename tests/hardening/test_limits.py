"""Limits on open streams, publish rate, event size and topics: a JSON 4xx or 503, Retry-After."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx

from tests.server.helpers import subscribers
from tests.servers import ServerProcess, read_head

Factory = Callable[..., ServerProcess]


def open_stream_from(port: int, source: str, topic: str = "t1") -> tuple[socket.socket, bytes]:
    """A raw `GET /stream` from the loopback address `source`; the socket and the response head."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /stream?topic={topic} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    return sock, read_head(sock)


def whole_response(sock: socket.socket, head: bytes) -> bytes:
    """`head` and the rest of its body (by Content-Length): the connection may stay open."""
    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    response = head
    while len(response.split(b"\r\n\r\n", 1)[1]) < length:
        response += sock.recv(4096)
    return response


def assert_refused(head: bytes, status: bytes, retry_after: bool = True) -> None:
    assert head.startswith(b"HTTP/1.1 " + status), head
    assert b"content-type: application/json" in head.lower(), head
    assert (b"retry-after: " in head.lower()) == retry_after, head


def test_open_streams_are_limited_in_total_and_per_address(server_factory: Factory) -> None:
    server = server_factory("--no-simulators", "--heartbeat", "0", "--max-streams", "3",
                            "--max-streams-per-client", "2")
    httpx.post(f"{server.url}/topics/t1/events", json={"event": "e"})
    first = [open_stream_from(server.port, "127.0.0.1") for _ in range(2)]
    assert all(head.startswith(b"HTTP/1.1 200") for _, head in first)
    over, head = open_stream_from(server.port, "127.0.0.1")
    assert_refused(head, b"503")
    assert b"per client address" in whole_response(over, head)
    third, head = open_stream_from(server.port, "127.0.0.2")  # another client address
    assert head.startswith(b"HTTP/1.1 200"), head
    full, head = open_stream_from(server.port, "127.0.0.3")
    assert_refused(head, b"503")
    # HEAD still answers, and a closed stream frees its slot
    assert httpx.head(f"{server.url}/stream", params={"topic": "t1"}).status_code == 200
    first[0][0].close()
    deadline = time.monotonic() + 5
    while subscribers(server.url, "t1") != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    again, head = open_stream_from(server.port, "127.0.0.3")
    assert head.startswith(b"HTTP/1.1 200"), head
    for sock in (over, third, full, again, first[1][0]):
        sock.close()
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'sse_requests_rejected_total{reason="stream_limit"} 2.0' in metrics


def test_publish_rate_is_limited_per_address(server_factory: Factory) -> None:
    server = server_factory("--no-simulators", "--publish-rate", "5")
    with httpx.Client(base_url=server.url) as client:
        answers = [client.post("/topics/t1/events", json={"event": "e"}) for _ in range(12)]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:5] == [201] * 5 and 429 in statuses, statuses
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "too many publish requests" in refused.json()["error"]
    # another address has its own budget
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=server.url, transport=transport) as other:
        assert other.post("/topics/t1/events", json={"event": "e"}).status_code == 201


def test_event_size_and_topic_count_are_limited(server_factory: Factory) -> None:
    server = server_factory("--no-simulators", "--max-event-bytes", "1000", "--max-topics", "2")
    with httpx.Client(base_url=server.url) as client:
        big = client.post("/topics/t1/events", json={"event": "e", "data": "x" * 2000})
        assert big.status_code == 413 and "error" in big.json()
        # no Content-Length (chunked): refused while reading, not after buffering it all
        chunked = client.post("/topics/t1/events", content=iter([b'{"event": "e", "data": "',
                                                                 b"y" * 5000, b'"}']))
        assert chunked.status_code == 413 and "error" in chunked.json()
        assert client.post("/topics/t1/events", json={"event": "e"}).status_code == 201
        assert client.post("/topics/t2/events", json={"event": "e"}).status_code == 201
        # a third topic: the least recently used idle one gives way (see test_topic_table)
        assert client.post("/topics/t3/events", json={"event": "e"}).status_code == 201
        listed = client.get("/topics").json()["topics"]
        assert sorted(row["name"] for row in listed) == ["t2", "t3"]
