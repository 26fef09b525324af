"""The newest events of a pane, numbered as they came, for the event inspector."""

from __future__ import annotations

from collections import deque

from monitor.client.events import Event


class EventRing:
    """The newest `max_events` events; event n (counted from 0 since the pane started) stays
    event n while newer ones push older ones out."""

    __slots__ = ("_events", "appended")

    def __init__(self, max_events: int) -> None:
        self._events: deque[Event] = deque(maxlen=max(max_events, 1))
        self.appended = 0  # events ever added: the newest is number appended - 1

    def add(self, event: Event) -> None:
        self._events.append(event)
        self.appended += 1

    def __len__(self) -> int:
        return len(self._events)

    @property
    def first(self) -> int:
        """The number of the oldest event held (== appended when none is)."""
        return self.appended - len(self._events)

    def get(self, number: int) -> Event | None:
        """Event `number`, or None when it was pushed out or has not come yet."""
        if not self.first <= number < self.appended:
            return None
        return self._events[number - self.first]

    def clear(self) -> None:
        """Forget every event; numbers go on from where they were."""
        self._events.clear()
