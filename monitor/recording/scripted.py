"""A stand-in for `SSEStream` that yields given items: deterministic panes for snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from monitor.client.events import State, StateChange, StreamItem
from monitor.client.stream import StreamConfig


class ScriptedStream:
    """Yields its script, then whatever `push()` adds, until stopped; never touches a network."""

    def __init__(self, config: StreamConfig, items: Iterable[StreamItem] = ()) -> None:
        self.config = config
        self.reconnects: list[bool] = []  # the resume flag of each reconnect() call
        self._queue: asyncio.Queue[StreamItem | None] = asyncio.Queue()
        self.push(*items)

    def push(self, *items: StreamItem) -> None:
        """More items for the pane, as if they had just arrived."""
        for item in items:
            self._queue.put_nowait(item)

    async def items(self) -> AsyncIterator[StreamItem]:
        while (item := await self._queue.get()) is not None:
            yield item

    def reconnect(self, resume: bool = True) -> None:
        self.reconnects.append(resume)

    def stop(self, reason: str = "stopped by user") -> None:
        self.push(StateChange(State.STOPPED, self.config.clock(), reason))
        self._queue.put_nowait(None)
