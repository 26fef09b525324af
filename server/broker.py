"""Topics, resume and fan-out: one follower per topic hands pre-encoded frames to subscribers.

Every subscriber is a bounded buffer of bytes; the broker never encodes per subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from server import wire
from server.backends.base import PAGE_BYTES, Backend, Entry, GapInfo

log = logging.getLogger(__name__)
OrderKey = Callable[[str], tuple[int, ...]]
SLOW_READER_REASONS = ("overflow", "stalled")  # Subscriber.reason of a reader dropped as too slow


class UnknownTopic(LookupError):
    pass


class TopicLimitReached(RuntimeError):
    pass


class BuiltInTopic(ValueError):
    """A topic the server itself publishes to (simulator, ticker, replay): not deletable."""


class ShuttingDown(RuntimeError):
    pass


class Subscriber:
    """One open stream's unsent bytes, bounded; closed when it overflows."""

    __slots__ = ("_boundary", "_chunks", "_events", "_held", "_limit", "_order_key", "_size",
                 "_waiter", "abort", "batch_events", "closed", "reason", "write_started")

    def __init__(self, limit: int) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._limit = limit
        self._waiter: asyncio.Future[None] | None = None
        self._held: list[Entry] | None = []  # live entries that arrive during the replay snapshot
        # The follower may still hand out entries of the replay snapshot after go_live: skip them.
        self._boundary: tuple[int, ...] | None = None
        self._order_key: OrderKey | None = None
        self.abort: Callable[[], None] | None = None  # drops the connection of a stuck writer
        self.closed = False
        self.reason = ""
        self._events = 0  # event frames (not heartbeats) among the queued chunks
        self.batch_events = 0  # event frames in the chunk next_chunk() returned last
        self.write_started = 0.0  # time.monotonic() when the pending write began; 0: none

    def deliver(self, entry: Entry) -> None:
        if self.closed:
            return
        if self._held is not None:
            self._held.append(entry)
        elif self._already_replayed(entry):
            return
        else:
            self._chunks.append(entry.frame)
            self._events += 1
        self._grow(len(entry.frame))

    def _already_replayed(self, entry: Entry) -> bool:
        if self._boundary is None or self._order_key is None:
            return False
        if self._order_key(entry.id) <= self._boundary:
            return True
        self._boundary = None  # entries arrive in order: every later one is new too
        return False

    def push(self, frame: bytes) -> None:
        """Queue a frame outside the event log (a heartbeat); dropped while replay is pending."""
        if not self.closed and self._held is None:
            self._chunks.append(frame)
            self._grow(len(frame))

    def _grow(self, size: int) -> None:
        self._size += size
        # Always accept one frame, however large; beyond the limit the reader is too slow.
        if self._size > self._limit and len(self._chunks) + len(self._held or ()) > 1:
            self.drop_as_too_slow()
        else:
            self._wake()

    def drop_as_too_slow(self) -> None:
        """Discard everything unsent and drop the connection: the client resumes later."""
        self.close("overflow", discard=True)
        if self.abort is not None:
            self.abort()

    def forget_held_through(self, replayed: tuple[int, ...], order_key: OrderKey) -> None:
        """Drop held live entries that a replay page has just covered."""
        held = self._held or []
        covered = next((n for n, entry in enumerate(held) if order_key(entry.id) > replayed),
                       len(held))
        if covered:
            self._size -= sum(len(entry.frame) for entry in held[:covered])
            del held[:covered]

    def go_live(self, boundary: tuple[int, ...], order_key: OrderKey) -> None:
        """End the replay phase: keep held entries newer than the last replayed one."""
        held, self._held = self._held or [], None
        self._boundary, self._order_key = (boundary, order_key) if boundary else (None, None)
        self._chunks = [entry.frame for entry in held if not self._already_replayed(entry)]
        self._events = len(self._chunks)
        self._size = sum(map(len, self._chunks))
        self._wake()

    def close(self, reason: str, discard: bool = False) -> None:
        """End the stream; unsent bytes are still flushed unless discarded."""
        if self.closed:
            return
        self.closed, self.reason = True, reason
        if discard:
            self._chunks, self._held, self._size, self._events = [], None, 0, 0
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_chunk(self) -> bytes | None:
        """Everything queued, as one write; None once closed and flushed."""
        while not self._chunks:
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunks, self._chunks, self._size = self._chunks, [], 0
        self.batch_events, self._events = self._events, 0
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


@dataclass(eq=False)
class Topic:
    name: str
    kind: str  # "custom" for topics clients made; else the simulator, ticker or replay
    newest_id: str | None = None
    publishing: int = 0  # publishes in flight: the topic is in use until they are stored
    last_used: int = 0  # the broker's use count at its last publish, subscribe or unsubscribe
    subscribers: set[Subscriber] = field(default_factory=set)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Plain counters for /metrics (server.metrics reads them when scraped).
    published: int = 0
    delivered: int = 0  # event frames written to subscribers, counted per write
    resumes: int = 0
    gaps: dict[str, int] = field(default_factory=dict)  # by reason
    drops: dict[str, int] = field(default_factory=dict)  # slow subscribers dropped, by reason


@dataclass(frozen=True, slots=True)
class Subscription:
    """A registered subscriber and the bytes to send before its live frames."""

    topic: Topic
    subscriber: Subscriber
    preamble: list[bytes]  # the gap frame, if any, then the first page of replayed frames
    replayed: int = 0  # events among the preamble
    replay_after: str | None = None  # more pages follow this id (see Broker.replay_rest)


class Broker:
    """Topics of one server process over a shared backend.

    The table holds at most `max_topics` topics: a new one evicts the least recently used custom
    topic that has no open stream and no publish in flight here (and deletes its events).
    Topics that already exist in the backend are always served, even beyond the limit.
    """

    def __init__(self, backend: Backend, *, heartbeat: float = 5.0, queue_bytes: int = 1 << 20,
                 max_topics: int = 1000) -> None:
        self.backend = backend
        self.heartbeat = heartbeat
        self.queue_bytes = queue_bytes
        self.replay_page_bytes = min(PAGE_BYTES, queue_bytes)
        self.max_topics = max_topics
        self.topics: dict[str, Topic] = {}  # in the order they were made, as GET /topics lists
        self._uses = itertools.count(1)  # orders uses without a clock
        self.evicted = 0  # topics that gave way to new ones, for /metrics
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionError):  # a shared store that is down: find() later
            for name in await self.backend.topics():
                self.add_topic(name)

    def add_topic(self, name: str, kind: str = "custom") -> Topic:
        """The topic of that name, followed from now on if new; never refused (see _claim)."""
        topic = self.topics.get(name)
        if topic is not None:
            if kind != "custom":
                topic.kind = kind
            self._touch(topic)
            return topic
        topic = self.topics[name] = Topic(name, kind, last_used=next(self._uses))
        entries = self.backend.follow(name)  # before any append or replay snapshot of the topic
        topic.tasks.append(asyncio.create_task(self._follow(topic, entries), name=f"follow {name}"))
        if self.heartbeat > 0:
            topic.tasks.append(asyncio.create_task(self._beat(topic), name=f"heartbeat {name}"))
        return topic

    def _claim(self, name: str) -> tuple[Topic, list[Topic]]:
        """The topic to publish to, and the idle topics evicted to make room for it if new."""
        victims = [] if name in self.topics else self._make_room()
        return self.add_topic(name), victims

    def _touch(self, topic: Topic) -> None:
        topic.last_used = next(self._uses)

    def _make_room(self) -> list[Topic]:
        """Take least recently used idle custom topics out until one more fits."""
        excess = len(self.topics) + 1 - self.max_topics
        if excess <= 0:
            return []
        idle = [topic for topic in self.topics.values() if _evictable(topic)]
        if len(idle) < excess:
            raise TopicLimitReached(
                f"this server holds at most {self.max_topics} topics and every one is in use "
                "(followed, being published to, or built in); try again later or DELETE one")
        victims = heapq.nsmallest(excess, idle, key=lambda topic: topic.last_used)
        for victim in victims:
            log.info("topic %r gives way to a new one (least recently used)", victim.name)
            self._forget(victim, "evicted")
        self.evicted += len(victims)
        return victims

    async def delete(self, name: str) -> None:
        """End the topic's streams and delete its events (UnknownTopic, BuiltInTopic)."""
        topic = self.topics.get(name)
        if topic is not None and topic.kind != "custom":
            raise BuiltInTopic(f"topic {name!r} is published by the server itself ({topic.kind})")
        if topic is not None:
            self._forget(topic, "deleted")
        if not await self.backend.delete(name) and topic is None:
            raise UnknownTopic(name)

    def _forget(self, topic: Topic, reason: str) -> None:
        """Out of the table: its streams end (after flushing), its follower stops."""
        if self.topics.get(topic.name) is topic:
            del self.topics[topic.name]
        self._close_topic_streams(topic, reason)
        for task in topic.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def find(self, name: str) -> Topic:
        """A topic of this process, or one another process created in the shared backend."""
        topic = self.topics.get(name)
        if topic is None:
            if name not in await self.backend.topics():
                raise UnknownTopic(name)
            topic = self.add_topic(name)
        return topic

    async def _follow(self, topic: Topic, entries: AsyncIterator[Entry]) -> None:
        while True:
            try:
                with contextlib.suppress(ConnectionError):  # learnt from the next entry instead
                    topic.newest_id = (await self.backend.stats(topic.name)).newest_id
                async for entry in entries:
                    topic.newest_id = entry.id
                    for subscriber in topic.subscribers:
                        subscriber.deliver(entry)
                if not self.closing:  # the backend says the topic was deleted, by another process
                    self._forget(topic, "deleted")
                return
            except ConnectionError as exc:
                # A shared store failed and may have lost entries: streams end, clients resume.
                log.warning("following topic %r stopped (%s); its streams are closed to resume",
                            topic.name, exc)
                self._close_topic_streams(topic, "backend failure")
                entries = self.backend.follow(topic.name)  # waits for the store to come back
            except Exception:
                log.exception("following topic %r failed; its streams are closed to resume",
                              topic.name)
                self._close_topic_streams(topic, "backend failure")
                return

    async def _beat(self, topic: Topic) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            if topic.subscribers:
                data = wire.to_json({"time": time.time(), "topic": topic.name,
                                     "newest_id": topic.newest_id,
                                     "subscribers": len(topic.subscribers)})
                frame = wire.encode_frame("heartbeat", data)
                for subscriber in topic.subscribers:
                    subscriber.push(frame)

    async def publish(self, topic: str, event: str, data: str) -> Entry:
        """Append an event (data is one line of JSON), creating a custom topic if needed."""
        (entry,) = await self.publish_many(topic, [(event, data)])
        return entry

    async def publish_many(self, topic: str, events: Sequence[tuple[str, str]]) -> list[Entry]:
        """Append (event, data) pairs in order: one round trip to a shared backend."""
        target, evicted = self._claim(topic)  # following it before the first append
        target.publishing += 1  # in use from now: not evicted while its events are on the way
        try:
            for victim in evicted:
                await self.backend.delete(victim.name)
            entries = await self.backend.append_many(topic, events)
        finally:
            target.publishing -= 1
        target.published += len(entries)
        return entries

    async def subscribe(self, name: str, last_id: str | None) -> Subscription:
        """Register first, then snapshot the backlog, so replay and live neither gap nor overlap."""
        if self.closing:
            raise ShuttingDown("the server is shutting down")
        topic = await self.find(name)
        self._touch(topic)
        subscriber = Subscriber(self.queue_bytes)
        topic.subscribers.add(subscriber)
        if last_id is None:
            subscriber.go_live((), self.backend.order_key)  # live only: nothing is held yet
            return Subscription(topic, subscriber, [])
        try:
            replay = await self.backend.replay(name, last_id, self.replay_page_bytes)
        except BaseException:
            self.unsubscribe(topic, subscriber)
            raise
        preamble = [e.frame for e in replay.entries]
        topic.resumes += 1
        if replay.gap is not None:
            preamble.insert(0, gap_frame(name, replay.gap))
            topic.gaps[replay.gap.reason] = topic.gaps.get(replay.gap.reason, 0) + 1
        boundary = (replay.entries[-1].id if replay.entries
                    else replay.gap.resume_point if replay.gap else last_id)
        order_key = self.backend.order_key
        if not replay.complete:
            subscriber.forget_held_through(order_key(boundary), order_key)
            return Subscription(topic, subscriber, preamble, len(replay.entries), boundary)
        subscriber.go_live(order_key(boundary), order_key)
        return Subscription(topic, subscriber, preamble, len(replay.entries))

    async def replay_rest(self, subscription: Subscription) -> AsyncIterator[tuple[bytes, int]]:
        """The replay's pages after the first, each as one write with its count of events; the
        next is read only once the last was written, so a stalled reader holds one page.

        The subscriber goes live with the last page; it is dropped as too slow when the backlog
        has moved past the page it is at.
        """
        subscriber, after = subscription.subscriber, subscription.replay_after
        order_key = self.backend.order_key
        while after is not None and not subscriber.closed:
            try:
                page = await self.backend.replay_page(subscription.topic.name, after,
                                                      self.replay_page_bytes)
            except ConnectionError:
                subscriber.close("backend failure")
                return
            if page is None:
                subscriber.drop_as_too_slow()
                return
            if page.entries:
                after = page.entries[-1].id
            if page.complete:
                subscriber.go_live(order_key(after), order_key)
                after = None
            else:
                subscriber.forget_held_through(order_key(after), order_key)
            if page.entries:
                yield b"".join(entry.frame for entry in page.entries), len(page.entries)

    def unsubscribe(self, topic: Topic, subscriber: Subscriber) -> None:
        subscriber.close("unsubscribed", discard=True)
        if subscriber.reason in SLOW_READER_REASONS and subscriber in topic.subscribers:
            topic.drops[subscriber.reason] = topic.drops.get(subscriber.reason, 0) + 1
        topic.subscribers.discard(subscriber)
        self._touch(topic)  # followed until now: recently used

    def _close_topic_streams(self, topic: Topic, reason: str) -> None:
        for subscriber in topic.subscribers:
            subscriber.close(reason)

    def shutdown(self) -> None:
        """End every open stream (after flushing it) and refuse new ones."""
        self.closing = True
        for topic in self.topics.values():
            self._close_topic_streams(topic, "shutdown")

    def request_shutdown(self) -> None:
        """shutdown() from a signal handler or another thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.shutdown)

    async def close(self) -> None:
        self.shutdown()
        tasks = [task for topic in self.topics.values() for task in topic.tasks]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)

    async def describe(self) -> list[dict[str, object]]:
        """Every topic with its kind, newest id, backlog size and local subscriber count."""
        for name in await self.backend.topics():
            if name not in self.topics:
                self.add_topic(name)
        rows = []
        for topic in list(self.topics.values()):
            stats = await self.backend.stats(topic.name)
            rows.append({"name": topic.name, "kind": topic.kind, "newest_id": stats.newest_id,
                         "backlog": stats.backlog, "subscribers": len(topic.subscribers)})
        return rows


def _evictable(topic: Topic) -> bool:
    return topic.kind == "custom" and not topic.subscribers and not topic.publishing


def gap_frame(topic: str, gap: GapInfo) -> bytes:
    data = wire.to_json({"topic": topic, "requested": gap.requested, "reason": gap.reason,
                         "detail": gap.detail, "resume_from": gap.resume_from,
                         "missed": gap.missed})
    return wire.encode_frame("gap", data, gap.resume_point)
