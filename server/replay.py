"""`sse-demo-server --replay FILE`: the events of a recording, served again as live topics.

One topic per recorded stream (not per pane: two panes on one stream are served once), named
after it; fresh ids from this server; the original pacing, scaled by `--speed`. A round starts
once someone watches, and starts again after the end, so every viewer who connects gets the
whole run. Heartbeats and gaps are this server's own: the recording's heartbeats, gaps and
connection states are not served again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.client.events import Event
from monitor.recording.format import (
    Recorded,
    RecordingError,
    StreamKey,
    load_recording,
    one_pane_each,
)
from monitor.recording.playback import Playback, play
from server import wire
from server.simulators import Publish

log = logging.getLogger("uvicorn.error")
SETTLE = 0.5  # seconds from the first viewer to the first event: time to open the other topics
IDLE_POLL = 0.1  # seconds between looks for a viewer while nobody watches


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """What a recording serves: a topic per recorded stream, and its events in recorded order."""

    topics: dict[StreamKey, str]
    events: list[tuple[str, Event]]  # (topic, event)


def load_plan(path: str) -> ReplayPlan:
    """The plan of a recording; `RecordingError` when not even its start can be read.

    A recording cut short (a monitor that crashed) is served up to where it breaks, with a warning.
    """
    entries, error = load_recording(path)
    if error is not None:
        if not entries:
            raise error
        log.warning("replay: %s; serving the %d items before it", error, len(entries))
    plan = plan_replay(entries)
    if not plan.events:
        raise RecordingError(path, "the recording holds no events to serve")
    return plan


def plan_replay(entries: list[Recorded]) -> ReplayPlan:
    topics: dict[StreamKey, str] = {}
    events: list[tuple[str, Event]] = []
    for stream, item in one_pane_each(entries):  # a topic per stream, not per pane that showed it
        if stream not in topics:
            topics[stream] = _unique(_topic_name(stream), set(topics.values()))
        if isinstance(item, Event):
            events.append((topics[stream], item))
    return ReplayPlan(topics, events)


def _topic_name(stream: StreamKey) -> str:
    """The recorded topic, else a valid name made from the URL's path (`/v1/stream` -> `stream`)."""
    if stream.topic is not None and wire.is_valid_topic(stream.topic):
        return stream.topic
    words = stream.topic or urlsplit(stream.url).path.rstrip("/").rpartition("/")[2]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", words).strip("-._")[:64]
    return name if wire.is_valid_topic(name) else "stream"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        suffix = f"-{number}"
        candidate = name[: 64 - len(suffix)] + suffix
    return candidate


async def run_replay(publish: Publish, plan: ReplayPlan, speed: float,
                     watched: Callable[[], bool]) -> None:
    """Publish the plan's events round after round, each round once `watched()` is true."""

    async def deliver(due: range) -> None:
        for index in due:
            topic, event = plan.events[index]
            await publish(topic, event.type, event.data)

    log.info("replay: %d events on topics %s, played round after round while anyone watches",
             len(plan.events), ", ".join(plan.topics.values()))
    rounds = 0
    while True:
        while not watched():  # noqa: ASYNC110 - the broker has no subscribe hook; looking is cheap
            await asyncio.sleep(IDLE_POLL)
        await asyncio.sleep(SETTLE)
        rounds += 1
        log.debug("replay: round %d starts", rounds)
        await play(Playback([event.received for _, event in plan.events], speed=speed), deliver)
