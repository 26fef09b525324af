"""The default backend: a bounded deque per topic, in this process's memory."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from server import wire
from server.backends.base import Entry, GapInfo, Replay, TopicStats


class _Log:
    """One topic's retained entries and the queues of those following it."""

    __slots__ = ("entries", "epoch", "followers", "newest_seq")

    def __init__(self, epoch: str, backlog: int) -> None:
        self.epoch = epoch
        self.newest_seq = 0
        self.entries: deque[Entry] = deque(maxlen=backlog)
        self.followers: list[asyncio.Queue[Entry | None]] = []

    def id_of(self, seq: int) -> str:
        return wire.format_id(self.epoch, seq)


class MemoryBackend:
    """Per-topic logs that live as long as this server run."""

    def __init__(self, backlog: int = 1000) -> None:
        if backlog < 1:
            raise ValueError("backlog must be at least 1")
        self.backlog = backlog
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
            log = self._logs[topic] = _Log(epoch, self.backlog)
            self._topic_of_epoch[epoch] = topic
        return log

    async def append(self, topic: str, event: str, data: str) -> Entry:
        log = self._log(topic)
        log.newest_seq += 1
        entry_id = log.id_of(log.newest_seq)
        entry = Entry(entry_id, wire.encode_frame(event, data, entry_id))
        log.entries.append(entry)
        for queue in log.followers:
            queue.put_nowait(entry)
        return entry

    async def append_many(self, topic: str, events: Sequence[tuple[str, str]]) -> list[Entry]:
        return [await self.append(topic, event, data) for event, data in events]

    async def replay(self, topic: str, after: str) -> Replay:
        log = self._log(topic)
        entries = list(log.entries)
        oldest_seq = log.newest_seq - len(entries) + 1
        parsed = wire.parse_id(after)
        if parsed is not None and parsed[0] == log.epoch:
            seq = parsed[1]
            if seq > log.newest_seq:
                return self._gap(log, entries, after, "ahead",
                                 f"{after} is newer than the newest event of {topic!r}.")
            if seq >= oldest_seq - 1:
                return Replay(entries[seq - oldest_seq + 1:])
            missed = oldest_seq - seq - 1
            return self._gap(log, entries, after, "evicted",
                             f"{missed} events after {after} are no longer retained.", missed)
        if parsed is None:
            return self._gap(log, entries, after, "malformed",
                             f"{after!r} is not an event id of this server.")
        other = self._topic_of_epoch.get(parsed[0])
        if other is not None:
            return self._gap(log, entries, after, "other-topic",
                             f"{after} is an id of topic {other!r}, not {topic!r}.")
        return self._gap(log, entries, after, "other-run",
                         f"{after} comes from an earlier server run or another server.")

    @staticmethod
    def _gap(log: _Log, entries: list[Entry], after: str, reason: str, detail: str,
             missed: int | None = None) -> Replay:
        first = entries[0].id if entries else None
        resume_seq = log.newest_seq - len(entries)  # just before the first retained entry
        gap = GapInfo(after, reason, detail, first, missed, log.id_of(resume_seq))
        return Replay(entries, gap)

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
        for queue in log.followers:
            queue.put_nowait(None)
        log.followers.clear()
        return True

    def health(self) -> str | None:
        return None

    async def run_exclusive(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        await work()  # this process is the only one with these logs
