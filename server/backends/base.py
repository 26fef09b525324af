"""The storage contract every backend meets: append, replay after an id, follow new entries.

The broker, routes and simulators talk only to this; they never know which backend runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored event, encoded once as the SSE frame every subscriber receives."""

    id: str
    frame: bytes  # wire.encode_frame of the event, its data and id, shared by all subscribers
    # No copy of the data beside the frame: the backlog would hold every event twice.


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
    """What a resuming subscriber gets before going live."""

    entries: list[Entry]
    gap: GapInfo | None = None


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

    async def replay(self, topic: str, after: str) -> Replay:
        """Every retained entry after `after`, or a gap and every retained entry."""
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
