"""Typed output of one SSE stream: what `monitor.client.stream` yields and every front end consumes.

No Textual, no httpx: the plain mode, the TUI, recordings and tests all share these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from monitor.client import safejson

# Not None: None is what json() returns for data that is not JSON.
NOT_PARSED: Any = ...


class State(StrEnum):
    """Connection state of one stream."""

    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"  # ended for good, normally (204, --no-reconnect, user stop)
    ERROR = "error"  # ended for good, or failing, for a reason a user must act on
    ENDED = "ended"  # a replayed stream whose recording has no more items


@dataclass(frozen=True, slots=True)
class Event:
    """An ordinary event, dispatched as the spec defines it."""

    type: str  # the event type; "message" when the stream named none
    data: str  # the data buffer exactly as parsed (lines joined with "\n")
    id: str  # the last event id at dispatch (the spec's lastEventId)
    received: float  # wall-clock time its reader took it, from the stream's clock
    raw: str = ""  # the block's lines as received, for a raw view
    retry: int | None = None  # a retry value in the same block, if any
    # What json() returns, when a reader has already parsed it (the stream process does, off
    # the app's loop); NOT_PARSED otherwise. Not part of the event's identity.
    parsed: Any = field(default=NOT_PARSED, compare=False, repr=False)

    def json(self) -> Any:
        """The data parsed as JSON, or None when it is not JSON (or nested too deep to parse)."""
        if self.parsed is not NOT_PARSED:
            return self.parsed
        try:
            return safejson.loads(self.data)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A `heartbeat` event: liveness, never an ordinary event."""

    data: str
    received: float
    info: dict[str, Any] = field(default_factory=dict)  # parsed JSON object, if any
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Gap:
    """A `gap` event: the server could not resume where asked; some events may be lost."""

    requested: str | None  # the Last-Event-ID the client asked for
    reason: str  # machine word: evicted, other-run, other-topic, malformed, ahead, ...
    detail: str  # human sentence from the server
    resume_from: str | None  # id of the first replayed event, None when nothing was retained
    missed: int | None  # how many events were lost, when known
    received: float
    id: str = ""  # the resume point the gap frame set, if any
    raw: str = ""
    data: str = ""  # the gap frame's data exactly as parsed (for jsonl output)


@dataclass(frozen=True, slots=True)
class StateChange:
    """The stream moved to another connection state."""

    state: State
    at: float  # wall-clock time of the change
    reason: str = ""  # why: error text, stop reason, what dropped the connection
    attempt: int = 0  # reconnect attempt number (RECONNECTING)
    delay: float = 0.0  # seconds until the next attempt (RECONNECTING)
    status: int | None = None  # HTTP status, when one caused the change

    def describe(self) -> str:
        """One line a person reads: `reconnecting in 3s (attempt 2)`, `error: 404 Not Found`."""
        if self.state is State.RECONNECTING:
            delay = f"{self.delay:.1f}".rstrip("0").rstrip(".")  # 3s, 0.5s, 2.3s
            text = f"reconnecting in {delay}s (attempt {self.attempt})"
            return f"{text}: {self.reason}" if self.reason else text
        if self.state in (State.STOPPED, State.ERROR) and self.reason:
            return f"{self.state.value}: {self.reason}"
        if self.state is State.LIVE and self.reason:  # a notice, such as a cross-origin redirect
            return f"live ({self.reason})"
        return self.state.value


StreamItem = Event | Heartbeat | Gap | StateChange


@dataclass(slots=True)
class StreamStats:
    """Counters of one stream, kept across reconnects."""

    events: int = 0
    bytes: int = 0
    reconnects: int = 0
    gaps: int = 0
    heartbeats: int = 0
    last_heartbeat: float | None = None  # wall-clock time of the last heartbeat
    last_received: float | None = None  # wall-clock time anything last arrived
    last_event_id: str = ""
