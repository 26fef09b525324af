"""A recording fed to the TUI's panes: one scripted source per recorded pane, paced by a Playback.

No Textual here: the replay screen drives `play(feed.playback, feed.deliver)` in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from monitor.client.events import State, StateChange
from monitor.client.stream import StreamConfig
from monitor.recording.format import Recorded, RecordingError, StreamKey, item_time
from monitor.recording.playback import Playback
from monitor.recording.scripted import ScriptedStream


@dataclass
class ReplayConfig(StreamConfig):
    """A pane's config in a replay: which recorded stream and pane it shows."""

    recorded: StreamKey = field(default_factory=lambda: StreamKey(""))


class ReplayFeed:
    """Routes a recording's items, as they fall due, to the pane that showed them."""

    def __init__(self, path: str, entries: list[Recorded], playback: Playback,
                 error: RecordingError | None = None) -> None:
        self.name = Path(path).name
        self.entries = entries
        self.playback = playback
        self.error = error  # where the recording broke off, if it did
        self.sources: dict[StreamKey, ScriptedStream] = {}

    @classmethod
    def create(cls, path: str, entries: list[Recorded], speed: float = 1.0,
               error: RecordingError | None = None) -> ReplayFeed:
        return cls(path, entries, Playback([item_time(e.item) for e in entries], speed=speed),
                   error)

    def configs(self) -> list[StreamConfig]:
        """One stream config per recorded pane (per stream in files without panes), in the order
        they first appear."""
        streams = dict.fromkeys(entry.stream for entry in self.entries)
        return [ReplayConfig(url=stream.url, topic=stream.topic, clock=self.clock,
                             recorded=stream) for stream in streams]

    def clock(self) -> float:
        """The replay's time: what "now" was in the recording (ages and rates follow it)."""
        return self.playback.position

    def open(self, config: StreamConfig) -> ScriptedStream:
        """A pane's source: it gets the stream's items from now on (a fresh one after a seek)."""
        source = ScriptedStream(config)
        key = config.recorded if isinstance(config, ReplayConfig) else StreamKey(config.url,
                                                                                 config.topic)
        self.sources[key] = source
        return source

    def deliver(self, due: range) -> None:
        for index in due:
            stream, item = self.entries[index]
            source = self.sources.get(stream)
            if source is not None:  # a stream no pane has opened is skipped
                source.push(item)
        if due and due.stop == len(self.entries):  # the last item: every pane has ended
            for source in self.sources.values():
                source.push(StateChange(State.ENDED, self.playback.end, "end of the recording"))
