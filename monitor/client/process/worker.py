"""The stream process: reads the app's SSE streams and sends their items back in batches.

`monitor.client.process.StreamProcess` runs it as `python -m monitor.client.process.worker`.
Commands come on stdin, frames of items go out on stdout; it ends when stdin closes, so it never
outlives the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sys
from typing import Any

from monitor.client import redaction
from monitor.client.events import State, StateChange, StreamItem
from monitor.client.process.frames import FrameError, decode_config, encode_item, pack, read_frame
from monitor.client.stream import SSEStream
from monitor.client.tuning import HEAP_TRIM_INTERVAL, map_large_blocks, release_free_heap

BATCH_DELAY = 0.002  # seconds items wait for company: a frame per few ms, not per read
# Items of one stream in a frame: the app takes a batch in one step of its loop, and one read can
# bring a thousand.
MAX_BATCH = 100
WRITE_HIGH_WATER = 2**20  # bytes unread by the app before the streams stop reading
# Bytes the pipe to the app holds: with Linux's default 64 KiB, the streams stood still while the
# app drew a frame.
PIPE_SIZE = 2**20
CLOSE_TIMEOUT = 2.0  # seconds to say goodbye once the app has closed the pipe


class StreamWorker:
    """The streams of one app, and the one pipe their items share."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.streams: dict[int, SSEStream] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.pending: dict[int, list[tuple[Any, ...]]] = {}
        self.ended: set[int] = set()
        self.early_stops: dict[int, str] = {}
        self._flush_timer: asyncio.TimerHandle | None = None

    def command(self, message: Any) -> None:
        """Act on ("open", id, config), ("reconnect", id, resume) or ("stop", id, reason)."""
        verb, stream_id, argument = message
        if verb == "open":
            config = decode_config(argument)
            for name, value in config.headers.items():  # this process masks them in reasons too
                redaction.remember_header(name, value)
            stream = self.streams[stream_id] = SSEStream(config)
            task = asyncio.create_task(self._follow(stream_id, stream))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif (stream := self.streams.get(stream_id)) is not None:
            if verb == "reconnect":
                stream.reconnect(bool(argument))
            elif verb == "stop":
                self._stop(stream_id, stream, str(argument))

    def _stop(self, stream_id: int, stream: SSEStream, reason: str) -> None:
        if stream.running:
            stream.stop(reason)
        else:  # items() has not begun, and would forget a stop() made now
            self.early_stops[stream_id] = reason

    async def _follow(self, stream_id: int, stream: SSEStream) -> None:
        try:
            if (reason := self.early_stops.pop(stream_id, None)) is not None:
                self._add(stream_id, StateChange(State.STOPPED, stream.config.clock(), reason))
                return
            async for item in stream.items():
                self._add(stream_id, item)
                if self.writer.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                    await self.writer.drain()  # the app is behind: let the sockets fill instead
        except Exception as exc:  # a bug here must reach the pane, not end the other streams
            self._add(stream_id, StateChange(State.ERROR, stream.config.clock(),
                                             f"stream process: {exc!r}"))
        finally:
            self.ended.add(stream_id)
            self._schedule_flush()

    def _add(self, stream_id: int, item: StreamItem) -> None:
        batch = self.pending.get(stream_id)
        if batch is None:
            batch = self.pending[stream_id] = []
            self._schedule_flush()
        batch.append(encode_item(item))
        if len(batch) >= MAX_BATCH:
            self.flush()

    def _schedule_flush(self) -> None:
        if self._flush_timer is None:
            self._flush_timer = asyncio.get_running_loop().call_later(BATCH_DELAY, self.flush)

    def flush(self) -> None:
        """Send every stream's waiting items in one frame: (id, last event id, ended, items)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        ids = [*self.pending, *(i for i in self.ended if i not in self.pending)]
        batches = [(i, self.streams[i].last_event_id, i in self.ended, self.pending.get(i, []))
                   for i in ids]
        self.pending = {}
        for stream_id in self.ended:
            del self.streams[stream_id]
            self.early_stops.pop(stream_id, None)
        self.ended.clear()
        if batches and not self.writer.is_closing():
            self.writer.write(pack(batches))

    async def close(self) -> None:
        """Stop every stream, send what they said last, and wait for the pipe to drain."""
        for stream_id, stream in self.streams.items():
            self._stop(stream_id, stream, "monitor closed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.gather(*self.tasks, return_exceptions=True)
                self.flush()
                if not self.writer.is_closing():
                    await self.writer.drain()


async def serve(stdin: int, stdout: int) -> None:
    """Read commands from `stdin` and write frames to `stdout` until `stdin` closes."""
    loop = asyncio.get_running_loop()
    _enlarge_pipe(stdout)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 os.fdopen(stdin, "rb", buffering=0))
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(stdout, "wb", buffering=0))
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    worker = StreamWorker(writer)
    map_large_blocks()
    _trim_heap_now_and_later(loop)
    try:
        while (message := await read_frame(reader)) is not None:
            worker.command(message)
    finally:
        await worker.close()


def _enlarge_pipe(fd: int) -> None:
    # Where the system refuses (not Linux, not a pipe, above pipe-max-size) it keeps its size.
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)


def _trim_heap_now_and_later(loop: asyncio.AbstractEventLoop) -> None:
    # The write buffer swells while the app is busy; what it leaves must not stay resident.
    if release_free_heap():
        loop.call_later(HEAP_TRIM_INTERVAL, _trim_heap_now_and_later, loop)


def main() -> None:
    # Only frames may reach the pipe: anything printed by accident goes to stderr instead.
    frames_fd = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        asyncio.run(serve(sys.stdin.fileno(), frames_fd))
    except FrameError as exc:
        sys.exit(f"sse-monitor stream process: {exc}")
    except (BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        pass  # the app is gone


if __name__ == "__main__":
    main()
