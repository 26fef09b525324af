"""The default backend: a deque per topic in this process's memory, bounded in events and bytes."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from operator import attrgetter

from server import wire
from server.backends.base import (
    PAGE_BYTES,
    Entry,
    GapInfo,
    PageBuilder,
    Replay,
    TopicStats,
    retained_bytes,
)


class _Log:
    """One topic's retained entries, their cost in bytes, and the queues of those following it."""

    __slots__ = ("entries", "epoch", "followers", "newest_seq", "size")

    def __init__(self, epoch: str) -> None:
        self.epoch = epoch
        self.newest_seq = 0
        self.entries: deque[Entry] = deque()
        self.size = 0  # retained_bytes of every entry retained
        self.followers: list[asyncio.Queue[Entry | None]] = []

    def id_of(self, seq: int) -> str:
        return wire.format_id(self.epoch, seq)

    @property
    def oldest_seq(self) -> int:
        """The seq of the oldest retained entry (newest_seq + 1 when none is retained)."""
        return self.newest_seq - len(self.entries) + 1

    def evict_oldest(self) -> int:
        """Forget the oldest retained entry; returns the bytes that freed."""
        size = retained_bytes(self.entries.popleft())
        self.size -= size
        return size

    def page_after(self, seq: int, max_bytes: int) -> Replay:
        """The retained entries after `seq` (not older than oldest_seq - 1), one page of them."""
        page = PageBuilder(max_bytes)
        complete = page.add(itertools.islice(self.entries, max(0, seq - self.oldest_seq + 1), None))
        return Replay(page.entries, None, complete)


class MemoryBackend:
    """Per-topic logs that live as long as this server run, bounded in events and in bytes.

    Over the process's byte budget the largest topic gives up its oldest events: a flood on one
    topic (or a few) evicts its own history before the short backlogs of quiet topics.
    """

    def __init__(self, backlog: int = 1000, *, backlog_bytes: int = 8 << 20,
                 total_backlog_bytes: int = 256 << 20) -> None:
        if backlog < 1:
            raise ValueError("backlog must be at least 1")
        if not 0 < backlog_bytes <= total_backlog_bytes:
            raise ValueError("backlog_bytes must be positive and at most total_backlog_bytes")
        self.backlog = backlog
        self.backlog_bytes = backlog_bytes
        self.total_backlog_bytes = total_backlog_bytes
        self.size = 0  # retained_bytes of every topic's retained entries
        self._logs: dict[str, _Log] = {}
        self._topic_of_epoch: dict[str, str] = {}  # classifies foreign ids of this run

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for log in self._logs.values():
            for queue in log.followers:
                queue.put_nowait(None)
            log.followers.clear()

    def _log(self, topic: str) -> _Log:
        log = self._logs.get(topic)
        if log is None:
            epoch = wire.new_epoch()
            while epoch in self._topic_of_epoch:
                epoch = wire.new_epoch()
            log = self._logs[topic] = _Log(epoch)
            self._topic_of_epoch[epoch] = topic
        return log

    async def append(self, topic: str, event: str, data: str) -> Entry:
        log = self._log(topic)
        log.newest_seq += 1
        entry_id = log.id_of(log.newest_seq)
        entry = Entry(entry_id, wire.encode_frame(event, data, entry_id))
        self._retain(log, entry)
        for queue in log.followers:
            queue.put_nowait(entry)
        return entry

    def _retain(self, log: _Log, entry: Entry) -> None:
        """Keep `entry`, then evict the oldest beyond the topic's budgets and the process's."""
        size = retained_bytes(entry)
        log.entries.append(entry)
        log.size += size
        self.size += size
        while len(log.entries) > self.backlog or (
                log.size > self.backlog_bytes and len(log.entries) > 1):
            self.size -= log.evict_oldest()
        while self.size > self.total_backlog_bytes:
            largest = max(self._logs.values(), key=attrgetter("size"))
            self.size -= largest.evict_oldest()

    async def append_many(self, topic: str, events: Sequence[tuple[str, str]]) -> list[Entry]:
        return [await self.append(topic, event, data) for event, data in events]

    async def replay(self, topic: str, after: str, max_bytes: int = PAGE_BYTES) -> Replay:
        log = self._log(topic)
        parsed = wire.parse_id(after)
        if parsed is not None and parsed[0] == log.epoch:
            seq = parsed[1]
            if seq > log.newest_seq:
                return self._gap(log, after, "ahead",
                                 f"{after} is newer than the newest event of {topic!r}.", max_bytes)
            if seq >= log.oldest_seq - 1:
                return log.page_after(seq, max_bytes)
            missed = log.oldest_seq - seq - 1
            return self._gap(log, after, "evicted",
                             f"{missed} events after {after} are no longer retained.", max_bytes,
                             missed)
        if parsed is None:
            return self._gap(log, after, "malformed",
                             f"{after!r} is not an event id of this server.", max_bytes)
        other = self._topic_of_epoch.get(parsed[0])
        if other is not None:
            return self._gap(log, after, "other-topic",
                             f"{after} is an id of topic {other!r}, not {topic!r}.", max_bytes)
        return self._gap(log, after, "other-run",
                         f"{after} comes from an earlier server run or another server.", max_bytes)

    async def replay_page(self, topic: str, after: str,
                          max_bytes: int = PAGE_BYTES) -> Replay | None:
        log = self._logs.get(topic)
        parsed = wire.parse_id(after)
        if log is None or parsed is None or parsed[0] != log.epoch:
            return None
        if parsed[1] < log.oldest_seq - 1:
            return None  # evicted while the reader was still replaying older entries
        return log.page_after(parsed[1], max_bytes)

    @staticmethod
    def _gap(log: _Log, after: str, reason: str, detail: str, max_bytes: int,
             missed: int | None = None) -> Replay:
        first = log.entries[0].id if log.entries else None
        resume_seq = log.oldest_seq - 1  # just before the first retained entry
        page = log.page_after(resume_seq, max_bytes)
        gap = GapInfo(after, reason, detail, first, missed, log.id_of(resume_seq))
        return Replay(page.entries, gap, page.complete)

    def follow(self, topic: str) -> AsyncIterator[Entry]:
        # Registered now, not at the first iteration, so nothing appended meanwhile is missed.
        queue: asyncio.Queue[Entry | None] = asyncio.Queue()
        self._log(topic).followers.append(queue)
        return self._drain(topic, queue)

    async def _drain(self, topic: str, queue: asyncio.Queue[Entry | None]) -> AsyncIterator[Entry]:
        try:
            while (entry := await queue.get()) is not None:
                yield entry
        finally:
            log = self._logs.get(topic)  # None once the topic is deleted
            if log is not None and queue in log.followers:
                log.followers.remove(queue)

    def order_key(self, entry_id: str) -> tuple[int, ...]:
        parsed = wire.parse_id(entry_id)
        return (parsed[1],) if parsed else (-1,)

    async def stats(self, topic: str) -> TopicStats:
        log = self._logs.get(topic)
        if log is None or log.newest_seq == 0:
            return TopicStats(None, 0)
        return TopicStats(log.id_of(log.newest_seq), len(log.entries))

    async def topics(self) -> list[str]:
        return list(self._logs)

    async def delete(self, topic: str) -> bool:
        log = self._logs.pop(topic, None)
        if log is None:
            return False
        del self._topic_of_epoch[log.epoch]  # a later topic of that name is another run
        self.size -= log.size
        for queue in log.followers:
            queue.put_nowait(None)
        log.followers.clear()
        return True

    def health(self) -> str | None:
        return None

    async def run_exclusive(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        await work()  # this process is the only one with these logs
