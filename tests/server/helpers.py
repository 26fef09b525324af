"""Small real-HTTP clients for server tests: open a stream, read parsed events, publish, inspect."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx

from tests.servers import read_head
from tests.sse_reference import ParsedEvent, ReferenceParser


class StreamReader:
    """One open `GET /stream` response and the events parsed from it so far."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.parser = ReferenceParser()
        self.raw = bytearray()
        self._chunks = response.aiter_raw()
        self._pending: list[ParsedEvent] = []

    async def next(self, within: float = 5.0) -> ParsedEvent:
        with anyio.fail_after(within):
            while not self._pending:
                chunk = await self._chunks.__anext__()
                self.raw += chunk
                self._pending.extend(self.parser.feed(chunk))
        return self._pending.pop(0)

    async def take(self, count: int, within: float = 5.0,
                   keep: Callable[[ParsedEvent], bool] = lambda e: e.type != "heartbeat",
                   ) -> list[ParsedEvent]:
        """The next `count` events that `keep` accepts (heartbeats skipped by default)."""
        events: list[ParsedEvent] = []
        with anyio.fail_after(within):
            while len(events) < count:
                event = await self.next(within)
                if keep(event):
                    events.append(event)
        return events


@asynccontextmanager
async def open_stream(base: str, topic: str, last_id: str | None = None, *,
                      via: str = "header") -> AsyncIterator[StreamReader]:
    """A stream of `topic`, resuming from `last_id` by header or by query parameter."""
    params = {"topic": topic}
    headers = {}
    if last_id is not None:
        if via == "header":
            headers["Last-Event-ID"] = last_id
        else:
            params["last_event_id"] = last_id
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client, client.stream(
            "GET", f"{base}/stream", params=params, headers=headers) as response:
        yield StreamReader(response)


def publish(base: str, topic: str, event: str, data: Any = None) -> str:
    response = httpx.post(f"{base}/topics/{topic}/events", json={"event": event, "data": data})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def topic_info(base: str, topic: str) -> dict[str, Any] | None:
    rows = httpx.get(f"{base}/topics").json()["topics"]
    return next((row for row in rows if row["name"] == topic), None)


def subscribers(base: str, topic: str) -> int:
    info = topic_info(base, topic)
    return info["subscribers"] if info else 0


async def wait_for(condition: Callable[[], bool], within: float = 5.0, step: float = 0.05) -> None:
    """Poll the server until `condition()` holds; TimeoutError after `within` seconds."""
    for _ in range(int(within / step) + 1):
        if condition():
            return
        await anyio.sleep(step)
    raise TimeoutError(f"condition still false after {within}s")


def seq_of(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


def data(event: ParsedEvent) -> Any:
    return json.loads(event.data)


def raw_stream_socket(port: int, topic: str, rcvbuf: int | None = None) -> socket.socket:
    """A socket that sent `GET /stream` and read the response head; the caller reads (or not)."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /stream?topic={topic} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    head = read_head(sock)
    assert b"\r\n\r\n" in head, "server closed before answering"
    assert head.startswith(b"HTTP/1.1 200"), head
    return sock
