"""One event in full: its fields, its data pretty-printed, and the frame as it came."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.highlighter import JSONHighlighter
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from monitor.client.backoff import seconds_text
from monitor.client.events import Event
from monitor.client.latency import publish_time
from monitor.client.sanitize import json_line
from monitor.tui.render.entries import NOTE_STYLE, clip, shown

MAX_LINES = 2000  # lines of data or frame drawn; `y` copies all of the data
CUT_NOTE = "y copies all of the data"
NONE = "—"
_HIGHLIGHT_JSON = JSONHighlighter()


def received_text(at: float) -> str:
    """`2025-11-24 16:00:04.123 UTC`: the time the monitor read the event."""
    moment = datetime.fromtimestamp(at, UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC"


def latency_text(event: Event) -> str:
    """Publish to arrival, when the data carries a publish time (see monitor.client.latency)."""
    published = publish_time(event.json())
    if published is None:
        return f"{NONE} (the data carries no publish time)"
    seconds = event.received - published
    return seconds_text(seconds) if abs(seconds) >= 1 else f"{round(seconds * 1000)}ms"


def data_text(event: Event) -> tuple[str, Text]:
    """(what the data is, the data drawn): JSON pretty-printed and coloured, else the text."""
    payload = event.json()
    if payload is None and event.data.strip() != "null":
        return "text", shown(event.data, max_lines=MAX_LINES, cut_note=CUT_NOTE)
    # json.dumps escapes C0 controls itself; json_line the rest: no control is left to show
    pretty, cut = clip(json_line(json.dumps(payload, ensure_ascii=False, indent=2)), MAX_LINES)
    body = _HIGHLIGHT_JSON(pretty)
    if cut:
        body.append(f"\n… {cut}: {CUT_NOTE}", NOTE_STYLE)
    return "JSON", body


def event_detail(event: Event) -> RenderableType:
    """Type, id, received time, latency, retry; the data; the raw frame. All text from the
    wire through the sanitiser: escapes dim, nothing read as markup."""
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="dim", no_wrap=True)
    fields.add_column()
    fields.add_row("type", shown(event.type, "bold cyan"))
    fields.add_row("id", shown(event.id) if event.id else Text(NONE))
    fields.add_row("received", received_text(event.received))
    fields.add_row("latency", latency_text(event))
    fields.add_row("retry", f"{event.retry} ms" if event.retry is not None else NONE)
    kind, data = data_text(event)
    raw = shown(event.raw.rstrip("\n"), "dim", max_lines=MAX_LINES, cut_note=CUT_NOTE)
    return Group(fields, Text(f"\ndata ({kind}, {len(event.data):,} characters)", "bold"),
                 data, Text("\nraw frame", "bold"), raw)


class EventDetail(Static):
    """The event the inspector is on."""

    def show(self, event: Event) -> None:
        self.update(event_detail(event))
