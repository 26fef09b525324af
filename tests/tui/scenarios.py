"""Scripted, seeded streams for snapshot tests and screenshots: no network, no wall clock.

Events come from the server's own seeded simulators, stamped with times counted from a fixed
epoch, so every run draws the same screen.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.client.stream import RECONNECT_AFRESH, StreamConfig, with_topic
from monitor.client.topics import TopicList
from monitor.recording.scripted import ScriptedStream
from monitor.tui.app import MonitorApp
from monitor.tui.widgets.entry_log import SCROLLBAR_SYNC
from monitor.tui.widgets.pane import StreamPane
from server import wire
from server.simulators import steps_for

T0 = 1_764_000_000.0  # the scripted streams' epoch
BASE_URL = "http://127.0.0.1:8000/stream"
EPOCH = "3f9a01c2"
HEARTBEAT = 2.0
TRANSIT = (0.004, 0.003, 0.006, 0.002, 0.011, 0.004, 0.005)  # seconds from publish to arrival
TOPICS = [{"name": "progress", "kind": "progress", "newest_id": f"{EPOCH}-118", "subscribers": 2},
          {"name": "logs", "kind": "logs", "newest_id": f"{EPOCH}-301", "subscribers": 1},
          {"name": "tokens", "kind": "tokens", "newest_id": f"{EPOCH}-904", "subscribers": 3}]


def config(topic: str | None, url: str = BASE_URL) -> StreamConfig:
    return StreamConfig(url=with_topic(url, topic) if topic else url, topic=topic,
                        clock=lambda: T0)


def event(name: str, data: Any, seq: int | None, at: float, epoch: str = EPOCH) -> Event:
    """An Event as the client yields it, with the frame it came in as its raw text."""
    text = data if isinstance(data, str) else wire.to_json(data)
    event_id = f"{epoch}-{seq}" if seq is not None else ""
    raw = wire.encode_frame(name, text, event_id or None).decode()
    return Event(name, text, event_id, at, raw.rstrip("\n"))


def heartbeat(at: float, topic: str) -> Heartbeat:
    info = {"time": at, "topic": topic, "subscribers": 1}
    text = wire.to_json(info)
    return Heartbeat(text, at, info, wire.encode_frame("heartbeat", text).decode().rstrip("\n"))


def change(state: State, at: float, reason: str = "", **details: Any) -> StateChange:
    return StateChange(state, at, reason, **details)


def simulated(topic: str, count: int, *, start: float = T0, first_seq: int = 1,
              seed: int = 7, epoch: str = EPOCH, until: float | None = None) -> list[StreamItem]:
    """`count` events of a server simulator (those before `until`), with heartbeats between."""
    items: list[StreamItem] = []
    at, next_beat = start, start + HEARTBEAT
    steps = itertools.islice(steps_for(topic, seed), count)
    for seq, (delay, name, data) in enumerate(steps, first_seq):
        at += delay
        if until is not None and at > until:
            break
        while next_beat <= at:
            items.append(heartbeat(next_beat, topic))
            next_beat += HEARTBEAT
        published = at - TRANSIT[seq % len(TRANSIT)]  # so the panes show a plausible latency
        stamped = {**data, "ts": round(published, 3)}
        if "level" in data:
            stamped["timestamp"] = datetime.fromtimestamp(published, UTC).isoformat(
                timespec="milliseconds")
        items.append(event(name, stamped, seq, at, epoch))
    return items


def end_of(items: list[StreamItem]) -> float:
    return max(item.received if not isinstance(item, StateChange) else item.at for item in items)


@dataclass
class Scenario:
    """Streams by config, and the fixed time the app's clock reads."""

    streams: list[tuple[StreamConfig, list[StreamItem]]]
    now: float
    sources: dict[str, ScriptedStream] = field(default_factory=dict)

    def app(self, **options: Any) -> MonitorApp:
        """The real app over scripted sources (new panes get an empty script)."""
        scripts = {id(cfg): items for cfg, items in self.streams}

        def factory(cfg: StreamConfig) -> ScriptedStream:
            source = ScriptedStream(cfg, scripts.pop(id(cfg), []))
            self.sources[cfg.topic or cfg.url] = source
            return source

        async def topics(_config: StreamConfig) -> TopicList:
            return TopicList(TOPICS)

        return MonitorApp([cfg for cfg, _ in self.streams], clock=self.clock,
                          source_factory=factory, topics=topics, **options)

    def clock(self) -> float:
        return self.now


def live_stream(topic: str, count: int, **options: Any) -> list[StreamItem]:
    items: list[StreamItem] = [change(State.CONNECTING, T0), change(State.LIVE, T0, status=200)]
    return items + simulated(topic, count, **options)


def three_topics() -> Scenario:
    """progress mid-run, logs with an error, tokens mid-message."""
    progress = live_stream("progress", 68)
    end = end_of(progress)  # all three streams are cut at the same moment
    streams = [(config("progress"), progress),
               (config("logs"), live_stream("logs", 10_000, until=end)),
               (config("tokens"), live_stream("tokens", 10_000, until=end))]
    return Scenario(streams, now=end + 0.5)


def reconnecting() -> Scenario:
    """One pane live, one waiting to reconnect, one stopped with an error."""
    logs = live_stream("logs", 30)
    logs += [change(State.RECONNECTING, end_of(logs) + 0.1, "connection refused",
                    attempt=2, delay=3.0)]
    missing = [change(State.CONNECTING, T0),
               change(State.ERROR, T0 + 0.1, "404 Not Found: unknown topic 'metrics'",
                      status=404)]
    progress = live_stream("progress", 25)
    now = end_of(logs) + 1.0
    return Scenario([(config("progress"), progress), (config("logs"), logs),
                     (config("metrics"), missing)], now=now)


def crowded() -> Scenario:
    """Three panes in 160 columns: one reconnecting (a long state), one live with a late heartbeat
    and a gap; the status bars must shorten their words, not cut them."""
    logs = live_stream("logs", 30)
    down = end_of(logs) + 0.1
    logs += [change(State.RECONNECTING, down, "connection refused", attempt=2, delay=7.5)]
    progress = live_stream("progress", 25)
    progress += [Gap(requested=f"{EPOCH}-25", reason="evicted", resume_from=f"{EPOCH}-31",
                     missed=5, detail="", received=end_of(progress) + 0.1)]
    tokens = [change(State.CONNECTING, T0),
              change(State.LIVE, T0, "redirected to http://127.0.0.1:8001/stream; "
                     "credentials not sent", status=200),
              *simulated("tokens", 40)]
    return Scenario([(config("logs"), logs), (config("progress"), progress),
                     (config("tokens"), tokens)], now=down + 51)


def with_gap() -> Scenario:
    """A logs pane that dropped, came back to a restarted server, and was told of a gap."""
    before = live_stream("logs", 12)
    down = end_of(before) + 0.2
    items = [
        *before,
        change(State.RECONNECTING, down, "server closed the connection", attempt=1, delay=3.0),
        change(State.CONNECTING, down + 3, f"resuming after {EPOCH}-12"),
        change(State.LIVE, down + 3.1, status=200),
        Gap(requested=f"{EPOCH}-12", reason="other-run", resume_from="7c1e5b90-1", missed=None,
            detail="the id is from an earlier run of the server", received=down + 3.1,
            id="7c1e5b90-0", raw=wire.encode_frame("gap", "{}", "7c1e5b90-0").decode()),
    ]
    after = simulated("logs", 8, start=down + 3.1, seed=8, epoch="7c1e5b90")
    items += [*after, heartbeat(end_of(after) + 0.1, "logs")]
    return Scenario([(config("logs"), items)], now=end_of(items) + 0.3)


def interrupted() -> Scenario:
    """A run cut by a server restart (an other-run gap), a message cut by ctrl+r (no resume)."""
    progress = live_stream("progress", 68)  # mid-run
    end = end_of(progress)
    tokens = live_stream("tokens", 10_000, until=end + 2)  # mid-message
    last_id = [item for item in progress if isinstance(item, Event)][-1].id
    now = end + 4.0
    progress += [
        change(State.RECONNECTING, end + 0.2, "server closed the connection", attempt=1,
               delay=1.0),
        change(State.CONNECTING, end + 1.2, f"resuming after {last_id}"),
        change(State.LIVE, end + 1.3, status=200),
        Gap(requested=last_id, reason="other-run", resume_from=None, missed=None,
            detail="the id is from an earlier run of the server", received=end + 1.3,
            id="7c1e5b90-0", raw=wire.encode_frame("gap", "{}", "7c1e5b90-0").decode()),
    ]
    tokens += [  # a new connection, no heartbeat on it yet: not overdue for the old one's
        change(State.RECONNECTING, end + 2.9, RECONNECT_AFRESH, attempt=1),
        change(State.CONNECTING, end + 2.9),
        change(State.LIVE, end + 3.0, status=200),
    ]
    return Scenario([(config("progress"), progress), (config("tokens"), tokens)], now=now)


def formats() -> Scenario:
    """Third-party formats, one pane each: OpenAI Chat, OpenAI Responses, Anthropic, others."""
    at = itertools.count(1)

    def script(*frames: tuple[str, Any]) -> list[StreamItem]:
        return [change(State.LIVE, T0)] + [event(name, data, None, T0 + next(at) / 10)
                                            for name, data in frames]

    chunk = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "model": "gpt-4o-mini"}
    words = ["Hello", "!", " Streams", " arrive", " as", " deltas", "."]
    chat = script(
        ("message", {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}),
        *[("message", {**chunk, "choices": [{"index": 0, "delta": {"content": w}}]})
          for w in words],
        ("message", {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        ("message", {**chunk, "choices": [], "usage": {"prompt_tokens": 12,
                                                       "completion_tokens": 7,
                                                       "total_tokens": 19}}),
        ("message", "[DONE]"))
    responses = script(
        ("response.created", {"type": "response.created", "response": {"id": "resp_1"}}),
        *[("response.output_text.delta", {"type": "response.output_text.delta",
                                          "item_id": "msg_1", "delta": w}) for w in words],
        ("response.completed", {"type": "response.completed", "response": {
            "id": "resp_1", "usage": {"input_tokens": 9, "output_tokens": 7}}}))
    anthropic = script(
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_01", "role": "assistant", "usage": {"input_tokens": 25}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        *[("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": w}})
          for w in words[:4]])
    other = script(
        ("STATE_SNAPSHOT", {"type": "STATE_SNAPSHOT", "snapshot": {"plan": ["read", "patch"],
                                                                   "done": 1}}),
        ("custom", {"job": "export", "rows": 1200, "shards": [1, 2, 3],
                    "destination": {"bucket": "reports", "prefix": "2025/11/24/"}}),
        ("message", "plain text, not JSON"))
    streams = [(config(None, "http://127.0.0.1:9000/v1/chat"), chat),
               (config(None, "http://127.0.0.1:9000/v1/responses"), responses),
               (config(None, "http://127.0.0.1:9000/v1/messages"), anthropic),
               (config(None, "http://127.0.0.1:9000/v1/other"), other)]
    return Scenario(streams, now=T0 + 30)


async def settle(pilot: Pilot) -> None:
    """Let workers hand over their items, then draw them now rather than at the next tick."""
    await pilot.pause(0.1)
    for pane in pilot.app.screen_stack[0].query(StreamPane):
        pane.flush()
    for field_ in pilot.app.screen.query(Input):
        field_.cursor_blink = False  # a blinking cursor would make screenshots differ
    # The logs' scrollbars follow a flush within SCROLLBAR_SYNC: a picture taken sooner or
    # later than that would differ by a scrollbar thumb, with the machine's speed
    await pilot.pause(SCROLLBAR_SYNC * 1.5)
    await pilot.pause()


@dataclass
class View:
    """A scenario at a terminal size, after some keys: one snapshot, and maybe a screenshot."""

    scenario: Callable[[], Scenario]
    size: tuple[int, int]
    keys: tuple[str, ...] = ()
    more: dict[str, list[StreamItem]] = field(default_factory=dict)  # pushed after the keys

    async def show(self, pilot: Pilot, scenario: Scenario) -> None:
        await settle(pilot)
        await pilot.press(*self.keys)
        for topic, items in self.more.items():
            scenario.sources[topic].push(*items)
        await settle(pilot)


def later_logs(count: int) -> list[StreamItem]:
    """Log events that arrive after the three_topics scenario's items."""
    scenario = three_topics()
    last = [item for item in scenario.streams[1][1] if isinstance(item, Event)][-1]
    return simulated("logs", count, start=scenario.now, seed=9,
                     first_seq=int(last.id.rsplit("-", 1)[1]) + 1)


VIEWS: dict[str, View] = {
    "three_topics": View(three_topics, (160, 45)),
    "formats": View(formats, (140, 36)),
    "reconnecting": View(reconnecting, (120, 32)),
    "gap": View(with_gap, (120, 32)),
    "gap_raw": View(with_gap, (120, 32), ("v",)),
    "interrupted": View(interrupted, (120, 36)),
    "paused": View(three_topics, (160, 45), ("2", "p"), {"logs": later_logs(5)}),
    "filter": View(three_topics, (160, 45), ("2", "slash", *"warn", "enter")),
    "help": View(three_topics, (120, 40), ("question_mark",)),
    "topic_dialog": View(three_topics, (120, 32), ("3", "t")),
    "narrow": View(three_topics, (70, 30)),
    "crowded": View(crowded, (160, 45)),
    "small": View(three_topics, (80, 24)),
    "inspector": View(three_topics, (120, 40), ("2", "i", "k")),
    "inspector_text": View(formats, (120, 32), ("4", "i")),
    "small_other_page": View(three_topics, (80, 24), ("3",)),
}
