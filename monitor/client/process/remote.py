"""The app's side of the stream process: one process for all panes, restarted when it dies.

With `--stream-process`, reading and parsing fast streams take no time from drawing: the app's loop
only takes batches of parsed items.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from monitor.client.backoff import backoff_delay
from monitor.client.events import State, StateChange, StreamItem
from monitor.client.process.frames import (
    Encoded,
    FrameError,
    decode_item,
    encode_config,
    pack,
    read_frame,
)
from monitor.client.stream import HEALTHY_AFTER, SSEStream, StreamConfig

RESTART_DELAY = 0.5  # seconds before the first restart of a stream process that died
CLOSE_TIMEOUT = 3.0  # seconds the process gets to stop its streams before it is killed
MAX_QUEUED = 50_000  # items a stream's reader has not taken before the pipe is left unread
READ_LIMIT = 2**20
STDERR_TAIL = 4096  # bytes of the process's stderr kept, to tell why it ended
HINT_AFTER = 3  # failed starts in a row before the reason names the way around the process
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class HubClosed(Exception):
    """The app is closing: no stream process will be started again."""


@dataclass
class _Lost:
    """The process a stream was read by is gone."""

    reason: str
    healthy: bool  # it had run long enough that a restart starts the back-off afresh


@dataclass
class _Run:
    """One run of the stream process and the streams it reads."""

    process: asyncio.subprocess.Process
    started: float = field(default_factory=time.monotonic)
    streams: dict[int, RemoteStream] = field(default_factory=dict)
    stderr: bytes = b""  # the end of what it wrote to stderr: why it ended, if it says
    ended: bool = False  # its reader has told its streams: no stream may join it now

    def send(self, message: Any) -> None:
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.write(pack(message))


class StreamProcess:
    """Starts the stream process on first use, routes its frames, restarts it when it dies."""

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command or [sys.executable, "-m", "monitor.client.process.worker"]
        self.closed = False
        self._run: _Run | None = None
        self._starting: asyncio.Task[_Run] | None = None
        self._readers: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)

    def source(self, config: StreamConfig) -> RemoteStream | SSEStream:
        """A stream for a pane: read by the process, or here when its clock is not the wall
        clock (a test's or a replay's, which the other process cannot share)."""
        if config.clock is not time.time:
            return SSEStream(config)
        return RemoteStream(self, config)

    @property
    def pid(self) -> int | None:
        """The process id of the stream process started last, if any."""
        return self._run.process.pid if self._run is not None else None

    async def attach(self, stream: RemoteStream, config: StreamConfig) -> tuple[_Run, int]:
        """Have the process read `config` for `stream`; start the process if none runs."""
        run = await self._running()
        if self.closed:
            raise HubClosed("the monitor is closing")
        if run.ended:  # it died while this stream waited for it to start
            raise OSError("the stream process ended as it started")
        stream_id = next(self._ids)
        run.streams[stream_id] = stream
        run.send(("open", stream_id, encode_config(config)))
        return run, stream_id

    async def _running(self) -> _Run:
        if self.closed:
            raise HubClosed("the monitor is closing")
        run = self._run
        if run is not None and run.process.returncode is None:
            return run
        if self._starting is None:
            self._starting = asyncio.create_task(self._start())
            self._starting.add_done_callback(self._started)
        return await asyncio.shield(self._starting)

    def _started(self, task: asyncio.Task[_Run]) -> None:
        self._starting = None
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter has its own copy

    async def _start(self) -> _Run:
        paths = [_PACKAGE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]
        process = await asyncio.create_subprocess_exec(
            *self.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=READ_LIMIT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
            start_new_session=True,  # the terminal's signals are the app's to handle
        )
        run = self._run = _Run(process)
        reader = asyncio.create_task(self._read(run))
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)
        return run

    async def _read(self, run: _Run) -> None:
        """Hand each frame's batches to their streams until the process ends."""
        assert run.process.stdout is not None
        stderr = asyncio.create_task(self._read_stderr(run))
        broken = ""
        try:
            while (frame := await read_frame(run.process.stdout)) is not None:
                for stream_id, last_event_id, ended, values in frame:
                    stream = run.streams.get(stream_id)
                    if stream is None:
                        continue
                    stream.deliver(values, last_event_id, ended)
                    if ended:
                        del run.streams[stream_id]
                    elif stream.queued > MAX_QUEUED:
                        await stream.room()  # its pane is behind: the process waits, then TCP
                await asyncio.sleep(0)  # frames already in the pipe come without a wait
        except FrameError as exc:
            broken = f"; {exc}"
        finally:
            code = await _ended(run.process, 0.0 if broken else CLOSE_TIMEOUT)
            await stderr
            lost = _Lost(_describe_exit(code, run.stderr) + broken,
                         time.monotonic() - run.started >= HEALTHY_AFTER)
            streams, run.streams, run.ended = run.streams, {}, True
            for stream in streams.values():
                stream.lose(lost)

    async def _read_stderr(self, run: _Run) -> None:
        assert run.process.stderr is not None
        while chunk := await run.process.stderr.read(READ_LIMIT):  # in chunks: lines may be long
            run.stderr = (run.stderr + chunk)[-STDERR_TAIL:]

    async def aclose(self) -> None:
        """Stop every stream and the process (killed after CLOSE_TIMEOUT)."""
        self.closed = True
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
        run, self._run = self._run, None
        if run is not None and run.process.stdin is not None:
            run.process.stdin.close()  # the process stops its streams and exits
            await _ended(run.process, CLOSE_TIMEOUT)
        await asyncio.gather(*self._readers, return_exceptions=True)


async def _ended(process: asyncio.subprocess.Process, grace: float) -> int:
    """The exit status, once the process has exited by itself within `grace` or been killed.

    Never kill() first: on a process that has just exited, kill() reaps it behind asyncio's
    back, and its real exit status is lost (asyncio reports 255).
    """
    try:
        return await asyncio.wait_for(asyncio.shield(process.wait()), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        return await process.wait()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _describe_exit(code: int, stderr: bytes) -> str:
    how = f"killed by {_signal_name(-code)}" if code < 0 else f"exit status {code}"
    lines = stderr.decode("utf-8", "replace").splitlines()
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    return f"stream process ended ({how}){': ' + last[:200] if last else ''}"


class RemoteStream:
    """An SSE stream read by the stream process: SSEStream's items, controls and resume.

    When the process dies, the stream says so (RECONNECTING), a new process starts and the stream
    resumes from its last event id, so nothing is lost that the server still holds.
    """

    def __init__(self, process: StreamProcess, config: StreamConfig) -> None:
        self.config = config
        self.last_event_id = config.last_event_id
        self._process = process
        self._link: tuple[_Run, int] | None = None
        self._inbox: deque[tuple[list[Encoded], bool] | _Lost] = deque()
        self.queued = 0  # items delivered and not yet yielded
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._stop_reason: str | None = None
        self._stop_requested = asyncio.Event()

    # -- from the reader of the process's pipe ------------------------------------------------

    def deliver(self, items: list[Encoded], last_event_id: str, ended: bool) -> None:
        self.last_event_id = last_event_id
        self.queued += len(items)
        self._inbox.append((items, ended))
        self._arrived.set()

    def lose(self, lost: _Lost) -> None:
        self._link = None
        self._inbox.append(lost)
        self._arrived.set()

    async def room(self) -> None:
        """Return once the stream's reader has caught up to half its queue (or went away)."""
        self._room.clear()
        if self.queued > MAX_QUEUED // 2 and self._link is not None:
            await self._room.wait()

    # -- control -------------------------------------------------------------------------------

    def reconnect(self, resume: bool = True) -> None:
        """Drop the connection and reconnect at once; resume=False forgets the last id."""
        if not resume:
            self.last_event_id = ""
        self._send("reconnect", resume)

    def stop(self, reason: str = "stopped by user") -> None:
        """End the stream: items() yields StateChange(STOPPED) and returns."""
        self._stop_reason = reason
        self._stop_requested.set()
        self._send("stop", reason)

    def _send(self, verb: str, argument: Any) -> None:
        if self._link is not None:
            run, stream_id = self._link
            run.send((verb, stream_id, argument))

    # -- items ---------------------------------------------------------------------------------

    async def items(self) -> AsyncIterator[StreamItem]:
        """What the stream yields, through process restarts, until it stops for good."""
        attempt = 0
        try:
            while self._stop_reason is None:
                try:
                    self._link = await self._process.attach(
                        self, replace(self.config, last_event_id=self.last_event_id))
                except HubClosed:
                    break
                except OSError as exc:
                    lost = _Lost(f"cannot start the stream process: {exc}", healthy=False)
                else:
                    if self._stop_reason is not None:
                        self._send("stop", self._stop_reason)
                    while not isinstance(entry := await self._next(), _Lost):
                        batch, ended = entry
                        # Timed as they reach the pane, not as the process read them: a pane
                        # behind the stream must show it in its latency (docs/monitor.md, latency).
                        taken = self.config.clock()
                        for values in batch:
                            yield decode_item(values, taken)
                        if ended:
                            return
                    lost = entry
                if self._process.closed:
                    break
                attempt = 1 if lost.healthy else attempt + 1
                delay = backoff_delay(attempt, RESTART_DELAY, self.config.max_backoff)
                hint = ("" if attempt < HINT_AFTER
                        else " (without --stream-process the app reads the streams itself)")
                yield StateChange(State.RECONNECTING, self.config.clock(),
                                  f"{lost.reason}; starting it again{hint}", attempt=attempt,
                                  delay=delay)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._stop_requested.wait()
            yield StateChange(State.STOPPED, self.config.clock(),
                              self._stop_reason or "monitor closed")
        finally:
            self._detach()
            self._stop_reason = None
            self._stop_requested.clear()

    async def _next(self) -> tuple[list[Encoded], bool] | _Lost:
        if self._inbox:  # a reader behind must still let timers and keys in between batches
            await asyncio.sleep(0)
        while not self._inbox:
            self._arrived.clear()
            await self._arrived.wait()
        entry = self._inbox.popleft()
        if not isinstance(entry, _Lost):
            self.queued -= len(entry[0])
            if self.queued <= MAX_QUEUED // 2:
                self._room.set()
        return entry

    def _detach(self) -> None:
        """The reader went away: the process stops reading for it, the pipe's reader moves on."""
        if self._link is not None:
            run, stream_id = self._link
            if run.streams.pop(stream_id, None) is not None:
                run.send(("stop", stream_id, "closed"))
            self._link = None
        self._inbox.clear()
        self.queued = 0
        self._room.set()

