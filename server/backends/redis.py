"""Redis Streams backend: one stream per topic, shared by every worker and host on one Redis.

SSE ids are the Redis entry ids (`<ms>-<seq>`): ordered, ASCII and valid on every instance, so a
client resumes anywhere and after any server restart. Errors reach callers as the builtin
ConnectionError, so the layers above never learn which backend runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import re
import socket
import uuid
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import LockError, RedisError, ResponseError

from server import wire
from server.backends.base import (
    ENTRY_OVERHEAD,
    PAGE_BYTES,
    Entry,
    GapInfo,
    PageBuilder,
    Replay,
    TopicStats,
)

log = logging.getLogger(__name__)

StreamId = tuple[int, int]
ZERO: StreamId = (0, 0)
_MAX_PART = 2**64 - 1
_FIRST_READ = 8  # entries of a replay page read at first; doubled while the page has room
_MAX_READ = 512
_ID_PATTERN = re.compile(r"(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})")


def parse_stream_id(text: str) -> StreamId | None:
    """(ms, seq) of a Redis stream id, or None for anything else."""
    match = _ID_PATTERN.fullmatch(text)
    if match is None:
        return None
    ms, seq = int(match[1]), int(match[2])
    return (ms, seq) if ms <= _MAX_PART and seq <= _MAX_PART else None


def format_stream_id(stream_id: StreamId) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


def redacted(url: str) -> str:
    """The URL without user or password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


def id_after(stream_id: StreamId) -> StreamId:
    """The least id above `stream_id`: reading from it reads what follows `stream_id`."""
    ms, seq = stream_id
    return (ms, seq + 1) if seq < _MAX_PART else (ms + 1, 0)


def id_before(stream_id: StreamId) -> StreamId:
    """The greatest id below `stream_id`: resuming from it replays `stream_id` onwards."""
    ms, seq = stream_id
    return (ms, seq - 1) if seq else (ms - 1, _MAX_PART)


def _no_such_key(error: Exception) -> bool:
    return isinstance(error, ResponseError) and "no such key" in str(error).lower()


def _honour_cancel() -> None:
    """Raise a cancel that redis-py swallowed, before the cancelled task talks to Redis again.

    On Python 3.11 redis-py's writes go through asyncio.wait_for, which drops a cancel that arrives
    as the write completes (CPython gh-86296): a busy publisher would otherwise never stop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


@dataclass(slots=True)
class _Tenure:
    """Until when the exclusive work in this context may write: its lease's expiry as last known.

    A clock, not only a flag: a process paused past the expiry learns it has no lease only on
    its next renewal, and must not publish before then (see run_exclusive).
    """

    until: float
    lease_key: str = ""
    token: str = ""

    def held(self) -> bool:
        return asyncio.get_running_loop().time() < self.until


_tenure: contextvars.ContextVar[_Tenure | None] = contextvars.ContextVar("tenure", default=None)
# Every append, in Redis itself: the backlog's bounds hold whichever process writes.
# KEYS[1]: the stream; KEYS[2], for work run exclusively: its lease key, which must hold ARGV[1]
# (a write on its way when the lease expired cannot land after another process took over).
# ARGV: lease token, MAXLEN, byte budget, bytes counted per entry beside its event and data,
# then event and data of each entry. Each entry carries the bytes appended to the stream up to
# and including it, so the bytes retained are known without reading the whole stream.
_APPEND = """
if #KEYS == 2 and redis.call('GET', KEYS[2]) ~= ARGV[1] then return false end
local stream, budget, overhead = KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4])
local function field(entry, name)
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end
local function cost(entry)
  return #(field(entry, 'event') or '') + #(field(entry, 'data') or '') + overhead
end
local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
local total = newest and tonumber(field(newest, 'cumulative_bytes') or '') or 0
local ids = {}
for i = 5, #ARGV, 2 do
  total = total + #ARGV[i] + #ARGV[i + 1] + overhead
  ids[#ids + 1] = redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[i],
                             'data', ARGV[i + 1], 'cumulative_bytes', total)
end
-- Keep the oldest entry from which the bytes to the end fit the budget (the newest always).
local floor, cursor, count, seen = total - budget, '-', 1, nil
while floor > 0 do
  local batch = redis.call('XRANGE', stream, cursor, '+', 'COUNT', count)
  for _, entry in ipairs(batch) do
    if entry[1] ~= seen then
      local through = tonumber(field(entry, 'cumulative_bytes') or '')
      if through == nil or through - cost(entry) >= floor or entry[1] == ids[#ids] then
        redis.call('XTRIM', stream, 'MINID', entry[1])
        return ids
      end
    end
  end
  if #batch < count then return ids end
  seen = batch[#batch][1]
  cursor, count = seen, math.min(count * 2, 128)
end
return ids
"""


def _first_cause(error: BaseException) -> BaseException:
    """The first error inside nested exception groups (from a TaskGroup of publishers)."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One atomic look at a stream: its bounds and the entries from some id on."""

    entries: list[Entry]  # up to _FIRST_READ + 1 of them
    read_all: bool  # whether `entries` are all from their start on
    first: StreamId | None  # oldest retained entry, None when nothing is retained
    last: StreamId  # last id ever generated in this stream, ZERO when there is no stream
    trimmed: int | None  # entries trimmed away so far, None when Redis does not say (< 7)


class RedisBackend:
    """Per-topic Redis streams, bounded in entries (XADD MAXLEN ~ backlog) and in bytes
    (XTRIM MINID beyond backlog_bytes, see _APPEND)."""

    def __init__(self, url: str, backlog: int = 1000, *, backlog_bytes: int = 8 << 20,
                 prefix: str = "sse:",
                 block_seconds: float = 2.0, max_backoff: float = 2.0,
                 lease_seconds: float = 3.0) -> None:
        if backlog < 1:
            raise ValueError("backlog must be at least 1")
        self.backlog = backlog
        self.backlog_bytes = backlog_bytes
        self._prefix = prefix
        self._block_ms = int(block_seconds * 1000)
        self._max_backoff = max_backoff
        self._lease_seconds = lease_seconds
        database = urlsplit(url).path.strip("/")
        if url.startswith(("redis:", "rediss:")) and database and not database.isdigit():
            raise ValueError(f"the database in {redacted(url)} must be a number, as in "
                             "redis://HOST:PORT/0")
        # One immediate retry: after a Redis restart each pooled connection fails once. (An XADD
        # whose reply is lost can then be stored twice; failing every first write is worse.)
        self._redis: Redis = Redis.from_url(
            url, decode_responses=True, retry=Retry(NoBackoff(), 1),
            socket_connect_timeout=2.0, socket_timeout=block_seconds + 3.0,
        )
        self._append = self._redis.register_script(_APPEND)
        self.where = redacted(url)
        self._problem: str | None = None
        self._watcher: asyncio.Task[None] | None = None
        # Followers that have not yet fixed their starting id; replays wait for them (see follow).
        self._starting: defaultdict[str, weakref.WeakSet[asyncio.Event]] = defaultdict(
            weakref.WeakSet)

    async def start(self) -> None:
        """Check Redis once and keep checking: the server starts and stays up without it."""
        with contextlib.suppress(ConnectionError):
            await self._ping()
        self._watcher = asyncio.create_task(self._watch(), name="redis-health")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self._redis.aclose()

    def health(self) -> str | None:
        return self._problem

    @contextlib.contextmanager
    def _talking(self) -> Iterator[None]:
        """Record Redis's health around one exchange; raise its errors as ConnectionError."""
        try:
            yield
        except LockError:
            raise  # a lease lost or never held: Redis itself answered
        except RedisError as exc:
            reason = str(exc).rstrip(".") or type(exc).__name__
            problem = f"Redis at {self.where} is unavailable: {reason}"
            if self._problem is None:
                log.warning("%s", problem)
            self._problem = problem
            raise ConnectionError(problem) from exc
        if self._problem is not None:
            log.warning("Redis at %s is reachable again", self.where)
            self._problem = None

    async def _ping(self) -> None:
        with self._talking():
            await self._redis.ping()

    async def _watch(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(ConnectionError):
                await self._ping()

    def _key(self, topic: str) -> str:
        return self._prefix + topic

    @staticmethod
    def _entry(entry_id: str, event: str, data: str) -> Entry:
        return Entry(entry_id, wire.encode_frame(event, data, entry_id))

    async def append(self, topic: str, event: str, data: str) -> Entry:
        (entry,) = await self.append_many(topic, [(event, data)])
        return entry

    async def append_many(self, topic: str, events: Sequence[tuple[str, str]]) -> list[Entry]:
        _honour_cancel()
        if (tenure := _tenure.get()) is not None and not tenure.held():
            raise asyncio.CancelledError  # the lease is lost or given up: publish once, not twice
        keys = [self._key(topic)] if tenure is None else [self._key(topic), tenure.lease_key]
        with self._talking():
            entry_ids = await self._append(
                keys=keys,
                args=[tenure.token if tenure else "", self.backlog, self.backlog_bytes,
                      ENTRY_OVERHEAD, *(part for event, data in events for part in (event, data))])
        if entry_ids is None:
            raise asyncio.CancelledError  # Redis says the lease is another's now
        return [self._entry(entry_id, event, data)
                for entry_id, (event, data) in zip(entry_ids, events, strict=True)]

    async def replay(self, topic: str, after: str, max_bytes: int = PAGE_BYTES) -> Replay:
        start = parse_stream_id(after)
        if start is None:
            return await self._gap(topic, after, "malformed",
                                   f"{after!r} is not a Redis stream id (<ms>-<seq>).", max_bytes)
        await self._followers_started(topic)
        snap = await self._snapshot(topic, format_stream_id(start))
        if snap.first is None:
            if start in (ZERO, snap.last):
                return Replay([])
            return await self._gap(topic, after, "other-run",
                                   f"{topic!r} retains no events; {after} is from before Redis "
                                   "lost them, or from another topic.", max_bytes)
        if start > snap.last:
            return await self._gap(topic, after, "ahead",
                                   f"{after} is newer than the newest event of {topic!r}.",
                                   max_bytes)
        if snap.entries and self.order_key(snap.entries[0].id) == start:
            return await self._page(topic, start, snap.entries[1:], snap.read_all, max_bytes)
        if start == id_before(snap.first) or (start == ZERO and snap.trimmed == 0):
            # nothing after `after` was trimmed away
            return await self._page(topic, start, snap.entries, snap.read_all, max_bytes)
        if start > snap.first:
            return await self._gap(topic, after, "other-topic",
                                   f"{after} lies within {topic!r}'s retained events but is not "
                                   "one of them (an id of another topic?).", max_bytes)
        if snap.trimmed == 0:
            return await self._gap(topic, after, "other-run",
                                   f"{after} is older than {topic!r}'s log, which was created "
                                   "afresh (Redis restarted or the stream was deleted).", max_bytes)
        missed = snap.trimmed if start == ZERO else None  # Redis does not say how many otherwise
        detail = f"{missed} events" if missed is not None else "Events"
        return await self._gap(topic, after, "evicted",
                               f"{detail} after {after} are no longer retained in {topic!r}.",
                               max_bytes, missed)

    async def replay_page(self, topic: str, after: str,
                          max_bytes: int = PAGE_BYTES) -> Replay | None:
        start = parse_stream_id(after)
        if start is None:
            return None
        entries, read_all = await self._range(topic, start, _FIRST_READ + 1)
        if not entries or entries[0].id != after:
            return None  # `after` was trimmed: entries after it may have been too
        return await self._page(topic, start, entries[1:], read_all, max_bytes)

    async def _page(self, topic: str, cursor: StreamId, entries: list[Entry], read_all: bool,
                    max_bytes: int) -> Replay:
        """One page: `entries` (those right after `cursor`), then more read while it has room."""
        page = PageBuilder(max_bytes)
        count = _FIRST_READ
        while page.add(entries):
            if read_all:
                return Replay(page.entries)
            if entries:
                cursor = parse_stream_id(entries[-1].id) or cursor
            count = min(count * 2, _MAX_READ)
            entries, read_all = await self._range(topic, id_after(cursor), count)
        return Replay(page.entries, None, complete=False)

    async def _range(self, topic: str, start: StreamId, count: int) -> tuple[list[Entry], bool]:
        """Up to `count` entries from `start` (inclusive), and whether they are all there are."""
        with self._talking():
            items = await self._redis.xrange(self._key(topic), format_stream_id(start), "+",
                                             count=count)
        return [self._entry(i, fields["event"], fields["data"]) for i, fields in items], len(
            items) < count

    async def _gap(self, topic: str, after: str, reason: str, detail: str, max_bytes: int,
                   missed: int | None = None) -> Replay:
        """The first page of every retained entry, after a gap whose resume point replays
        exactly them."""
        snap = await self._snapshot(topic, "-")
        if snap.first is None:
            return Replay([], GapInfo(after, reason, detail, None, missed,
                                      format_stream_id(snap.last)))
        resume = id_before(snap.first)
        page = await self._page(topic, resume, snap.entries, snap.read_all, max_bytes)
        gap = GapInfo(after, reason, detail, snap.entries[0].id, missed, format_stream_id(resume))
        return Replay(page.entries, gap, page.complete)

    async def _snapshot(self, topic: str, start: str) -> _Snapshot:
        """The stream's bounds and its first entries from `start` (inclusive), read atomically."""
        key = self._key(topic)
        with self._talking():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xinfo_stream(key)
                pipe.xrange(key, start, "+", count=_FIRST_READ + 1)
                info, items = await pipe.execute(raise_on_error=False)
            for reply in (info, items):
                if isinstance(reply, Exception) and not _no_such_key(reply):
                    raise reply
        entries = [self._entry(i, fields["event"], fields["data"]) for i, fields in items]
        read_all = len(entries) < _FIRST_READ + 1
        if isinstance(info, Exception):  # no such key: nothing was ever kept, or Redis lost it
            return _Snapshot(entries, read_all, None, ZERO, 0)
        first = info.get("first-entry")
        added = info.get("entries-added")
        return _Snapshot(
            entries,
            read_all,
            parse_stream_id(first[0]) if first else None,
            parse_stream_id(info["last-generated-id"]) or ZERO,
            added - info["length"] if added is not None else None,
        )

    async def _info(self, topic: str) -> dict[str, Any] | None:
        with self._talking():
            try:
                return await self._redis.xinfo_stream(self._key(topic))
            except ResponseError as exc:
                if _no_such_key(exc):
                    return None
                raise

    def follow(self, topic: str) -> AsyncIterator[Entry]:
        """New entries by any process, from one blocked XREAD at a time.

        Waits out an outage before the first read; ends with ConnectionError when Redis fails
        later, as entries may have been lost with it: streams end, clients resume and learn.
        """
        # A replay must not read the stream before this follower has fixed its starting id,
        # or events appended in between would reach neither the replay nor the follower.
        started = asyncio.Event()
        self._starting[topic].add(started)
        return self._read(topic, started)

    async def _followers_started(self, topic: str) -> None:
        for started in list(self._starting.get(topic, ())):
            with contextlib.suppress(TimeoutError):  # Redis is down: the replay will say so
                await asyncio.wait_for(started.wait(), 2.0)

    async def _read(self, topic: str, started: asyncio.Event) -> AsyncIterator[Entry]:
        key = self._key(topic)
        try:
            last = await self._newest_id(topic)
            started.set()
            while True:
                _honour_cancel()
                with self._talking():
                    reply = await self._redis.xread({key: last}, count=500, block=self._block_ms)
                    # A quiet stream that had entries and now has no key was deleted (DELETE or
                    # eviction, by any process): the iteration ends, so its streams end.
                    if not reply and last != "0-0" and not await self._redis.exists(key):
                        return
                for _key, items in reply:
                    for entry_id, fields in items:
                        last = entry_id
                        yield self._entry(entry_id, fields["event"], fields["data"])
        finally:
            started.set()
            starting = self._starting[topic]
            starting.discard(started)
            if not starting:  # one set per topic ever followed would grow with topic churn
                del self._starting[topic]

    async def _newest_id(self, topic: str) -> str:
        """The stream's last id ("0-0" before its first entry), once Redis answers."""
        backoff = 0.1
        while True:
            try:
                info = await self._info(topic)
            except ConnectionError:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            return info["last-generated-id"] if info else "0-0"

    async def run_exclusive(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` in one process at a time among all sharing this Redis, forever.

        A lease (a redis-py Lock: SET NX PX, renewed while held) decides which; when its holder
        dies, the lease expires and another process takes over. Work that fails is restarted.
        """
        lease = self._redis.lock(f"{self._prefix}lease:{name}", timeout=self._lease_seconds,
                                 sleep=self._lease_seconds / 10, thread_local=False)
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"  # says who holds it
        while True:
            _honour_cancel()  # not redis-py's blocking acquire: it polls on after a lost cancel
            asked = asyncio.get_running_loop().time()
            try:
                with self._talking():
                    acquired = await lease.acquire(token=token, blocking=False)
            except ConnectionError:
                await asyncio.sleep(self._max_backoff)
                continue
            if not acquired:
                await asyncio.sleep(self._lease_seconds / 10)
                continue
            log.info("this process now runs %s (lease %s)", name, token)
            tenure = _Tenure(asked + self._lease_seconds, str(lease.name), token)
            await self._work_while_held(lease, tenure, work)
            await asyncio.sleep(self._lease_seconds / 3)  # lets a restart not spin

    async def _work_while_held(self, lease: Lock, tenure: _Tenure,
                               work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` while renewing the lease; stop it for sure before giving the lease up."""
        context = contextvars.copy_context()
        context.run(_tenure.set, tenure)  # the work's appends check it (see append)
        task = asyncio.create_task(work(), context=context)
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=self._lease_seconds / 3)
                _honour_cancel()
                if task.done():
                    break
                asked = asyncio.get_running_loop().time()
                with self._talking():
                    await lease.reacquire()  # LockNotOwnedError: expired, maybe taken over
                tenure.until = asked + self._lease_seconds
        except (ConnectionError, LockError) as exc:
            log.warning("lost the lease for %s: %s", lease.name, exc)
        finally:
            tenure.until = 0.0  # from now on the work cannot publish, whatever becomes of cancel
            task.cancel()
            # Bounded, so that shutdown never hangs, and well within the lease's expiry.
            await asyncio.wait({task}, timeout=self._lease_seconds / 3)
            if task.done():  # also on shutdown, so another process takes over at once
                with contextlib.suppress(ConnectionError, LockError), self._talking():
                    await lease.release()
            else:  # it cannot write any more; the lease expires by itself
                log.warning("%s did not stop at once; its lease is left to expire", lease.name)
        if task.done() and not task.cancelled() and (error := task.exception()) is not None:
            cause = _first_cause(error)
            log.warning("%s stopped: %s", lease.name, cause,
                        exc_info=None if isinstance(cause, ConnectionError) else cause)

    def order_key(self, entry_id: str) -> tuple[int, ...]:
        return parse_stream_id(entry_id) or (-1,)

    async def stats(self, topic: str) -> TopicStats:
        info = await self._info(topic)
        if info is None:
            return TopicStats(None, 0)
        return TopicStats(info["last-generated-id"], info["length"])

    async def delete(self, topic: str) -> bool:
        if not self._starting.get(topic):  # left by a follower cancelled before it ever read
            self._starting.pop(topic, None)
        with self._talking():
            return bool(await self._redis.delete(self._key(topic)))

    async def topics(self) -> list[str]:
        with self._talking():
            keys = [key async for key in self._redis.scan_iter(
                match=self._prefix + "*", _type="STREAM")]
        return sorted(key.removeprefix(self._prefix) for key in keys)
