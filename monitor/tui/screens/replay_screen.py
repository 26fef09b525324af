"""The monitor's screen over a recording: the same panes, fed by a replay, plus keys for time."""

from __future__ import annotations

from textual.binding import Binding

from monitor.client.sanitize import visible
from monitor.client.stream import StreamConfig
from monitor.recording.feeds import ReplayFeed
from monitor.recording.playback import play
from monitor.tui.screens.main_screen import MonitorScreen, MonitorSettings

SPEEDS = (1 / 16, 64.0)  # slowest and fastest pace the speed keys reach
# What acts on a live connection or a server: nothing to do over a recording
LIVE_ONLY = frozenset({"reconnect", "reconnect-all", "reconnect-fresh", "switch-topic",
                       "add-pane", "record", "record-all"})
DELIVERY_BATCH = 1000  # items handed to the panes between two looks at the keys


def clock_text(seconds: float) -> str:
    """`1:05.3`: minutes and seconds into the recording."""
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)}:{rest:04.1f}"


class ReplayScreen(MonitorScreen):
    """Panes as they were recorded; pause stops the replay, the brackets move in time."""

    BINDINGS = [
        Binding("left_square_bracket", "seek(-10)", "-10s", id="seek-back",
                tooltip="Replay: jump back 10 seconds (the panes are redrawn up to there)"),
        Binding("right_square_bracket", "seek(10)", "+10s", id="seek-forward",
                tooltip="Replay: jump ahead 10 seconds (what it skips is shown at once)"),
        Binding("left_curly_bracket", "seek(-60)", "-1m", id="seek-back-minute", show=False,
                tooltip="Replay: jump back a minute"),
        Binding("right_curly_bracket", "seek(60)", "+1m", id="seek-forward-minute", show=False,
                tooltip="Replay: jump ahead a minute"),
        Binding("minus", "speed(0.5)", "Slower", id="slower",
                tooltip="Replay: half the pace"),
        Binding("plus", "speed(2)", "Faster", id="faster",
                tooltip="Replay: double the pace"),
    ]

    def __init__(self, configs: list[StreamConfig], settings: MonitorSettings,
                 feed: ReplayFeed) -> None:
        super().__init__(configs, settings)
        self.feed = feed

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The live-only keys neither show in the footer nor act."""
        return action not in self._live_only_actions

    _live_only_actions = frozenset(
        binding.action for binding in MonitorScreen.BINDINGS
        if isinstance(binding, Binding) and binding.id in LIVE_ONLY)

    def on_mount(self) -> None:
        super().on_mount()
        self.run_worker(play(self.feed.playback, self.feed.deliver, until_finished=False,
                             batch=DELIVERY_BATCH), group="replay")
        self.set_interval(0.25, self._update_summary)
        if self.feed.error is not None:
            self.tell(f"{self.feed.error}; replaying the {len(self.feed.entries)} items "
                      "before it", severity="warning", timeout=15)

    def _update_summary(self) -> None:
        """Header subtitle: where the replay is, its pace, then the panes' states."""
        super()._update_summary()
        playback = self.feed.playback
        if playback.paused:
            pace = "⏸ paused"
        elif playback.finished:
            pace = "ended"
        else:
            pace = f"▶ {playback.speed:g}x" if playback.speed else "▶ at once"
        where = (f"{clock_text(playback.position - playback.start)} / "
                 f"{clock_text(playback.end - playback.start)}")
        self.sub_title = f"replay {visible(self.feed.name)} {where} {pace} · {self.sub_title}"

    def action_toggle_pause(self) -> None:
        """In a replay, pause stops time itself, for every pane."""
        self.feed.playback.toggle_pause()
        self._update_summary()

    def action_seek(self, seconds: float) -> None:
        if self.feed.playback.seek_by(seconds):
            for pane in self.panes:  # back in time: draw every pane again from the start
                pane.switch(pane.source.config)
        self._update_summary()

    def action_speed(self, factor: float) -> None:
        playback = self.feed.playback
        if playback.speed:  # "at once" (0) has no pace to change
            playback.set_speed(min(max(playback.speed * factor, SPEEDS[0]), SPEEDS[1]))
            self._update_summary()

    @classmethod
    def bindings_with_ids(cls) -> list[Binding]:
        own = [binding for binding in cls.BINDINGS if isinstance(binding, Binding) and binding.id]
        shared = [binding for binding in MonitorScreen.bindings_with_ids()
                  if binding.id not in LIVE_ONLY]
        return [*shared, *own]
