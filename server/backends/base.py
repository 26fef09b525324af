"""The storage contract every backend meets: append, replay after an id, follow new entries.

The broker, routes and simulators talk only to this; they never know which backend runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored event, encoded once as the SSE frame every subscriber receives."""

    id: str
    frame: bytes  # wire.encode_frame of the event, its data and id, shared by all subscribers
    # No copy of the data beside the frame: the backlog would hold every event twice.


PAGE_BYTES = 256 * 1024  # a replay is read and written a page at a time, never whole
# Python's objects around each retained frame (the Entry, its id, the bytes header, a deque slot).
ENTRY_OVERHEAD = 160


def retained_bytes(entry: Entry) -> int:
    """What keeping `entry` in a backlog costs, counted against the byte budgets."""
    return len(entry.frame) + ENTRY_OVERHEAD


@dataclass(frozen=True, slots=True)
class GapInfo:
    """Why a resume point cannot be honoured, and where replay starts instead."""

    requested: str
    reason: str  # evicted | other-run | other-topic | ahead | malformed
    detail: str  # one sentence for a person
    resume_from: str | None  # id of the first replayed entry, None when nothing is retained
    missed: int | None  # entries lost, when known
    resume_point: str  # the id the gap frame carries: just before the first replayed entry


@dataclass(frozen=True, slots=True)
class Replay:
    """What a resuming subscriber gets before going live, one page of bytes at a time."""

    entries: list[Entry]  # this page: at least one entry when any is due, about max_bytes at most
    gap: GapInfo | None = None
    complete: bool = True  # False: more entries follow; read them with replay_page


class PageBuilder:
    """One page of a replay: entries whose frames fit in `max_bytes`, and at least one."""

    __slots__ = ("entries", "max_bytes", "size")

    def __init__(self, max_bytes: int) -> None:
        self.entries: list[Entry] = []
        self.max_bytes = max_bytes
        self.size = 0

    def add(self, entries: Iterable[Entry]) -> bool:
        """Take entries in order while they fit; False once one did not (the page is full)."""
        for entry in entries:
            if self.entries and self.size + len(entry.frame) > self.max_bytes:
                return False
            self.entries.append(entry)
            self.size += len(entry.frame)
        return True


@dataclass(frozen=True, slots=True)
class TopicStats:
    newest_id: str | None
    backlog: int


class Backend(Protocol):
    """A per-topic bounded log of events. Failures of a shared store raise ConnectionError."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def append(self, topic: str, event: str, data: str) -> Entry:
        """Store an event and return it with its new id and encoded frame."""
        ...

    async def append_many(self, topic: str, events: Sequence[tuple[str, str]]) -> list[Entry]:
        """Store (event, data) pairs in order, in one round trip where the store is remote."""
        ...

    async def replay(self, topic: str, after: str, max_bytes: int = PAGE_BYTES) -> Replay:
        """The first page of the retained entries after `after`, or a gap and the first page of
        every retained entry."""
        ...

    async def replay_page(self, topic: str, after: str,
                          max_bytes: int = PAGE_BYTES) -> Replay | None:
        """The page after `after`, an entry a replay sent; None when the backlog has moved past
        it (the reader was too slow for its replay)."""
        ...

    def follow(self, topic: str) -> AsyncIterator[Entry]:
        """Entries appended from now on (by any process sharing the backend), in order."""
        ...

    def order_key(self, entry_id: str) -> tuple[int, ...]:
        """A sort key for ids of this backend, to drop entries already replayed."""
        ...

    async def stats(self, topic: str) -> TopicStats: ...

    async def delete(self, topic: str) -> bool:
        """Drop the topic's log; its followers' iterations end. False if there was none."""
        ...

    async def topics(self) -> list[str]:
        """Topics that have a log, in this backend (other processes' included)."""
        ...

    def health(self) -> str | None:
        """None when healthy, else what is wrong (for /healthz and logs)."""
        ...

    async def run_exclusive(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` in one process at a time among all sharing this backend, until cancelled
        (the simulators publish once, not once per worker or host)."""
        ...
