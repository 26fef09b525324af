"""A tiny loopback HTTP server that sends exact bytes, for unit tests of the client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

STREAM_HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


@dataclass
class Request:
    """What the client sent: the request line and headers (names lower-cased, values raw)."""

    line: str
    headers: dict[str, bytes]


Handler = Callable[[asyncio.StreamWriter], Awaitable[None]]


def respond(head: bytes, body: bytes = b"") -> Handler:
    """Send a whole response, then close."""

    async def handle(writer: asyncio.StreamWriter) -> None:
        writer.write(head + body)
        await writer.drain()

    return handle


def stream(*chunks: bytes, pause: float = 0.0, hold: float = 0.0) -> Handler:
    """Send a 200 event-stream head and the chunks (pausing between them), hold, then close."""

    async def handle(writer: asyncio.StreamWriter) -> None:
        writer.write(STREAM_HEADERS)
        for chunk in chunks:
            await writer.drain()
            await asyncio.sleep(pause)
            writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(hold)

    return handle


class RawServer:
    """Answers the n-th connection with handlers[n] (the last handler for all later ones)."""

    def __init__(self, handlers: Sequence[Handler]) -> None:
        self.handlers = list(handlers)
        self.requests: list[Request] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/stream"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, *fields = head.decode("latin-1").split("\r\n")
            headers = {}
            for field in filter(None, fields):
                name, _, value = field.partition(":")
                headers[name.strip().lower()] = value.strip().encode("latin-1")
            self.requests.append(Request(line, headers))
            handler = self.handlers[min(len(self.requests), len(self.handlers)) - 1]
            await handler(writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the test is over: nothing left to serve
        finally:
            self._tasks.discard(task)
            writer.close()
