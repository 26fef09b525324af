"""What every stream has: the fallback for unknown events, gap lines, state lines, raw frames."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.json import JSON
from rich.text import Text

from monitor.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.render.entries import Entry, label

ONE_LINE_JSON = 100  # JSON shorter than this stays on the event's line


def generic_entry(event: Event, payload: Any) -> Entry:
    """Event type, id, and the data: compact or pretty-printed JSON, or the raw text."""
    head = label(event.type, event.id)
    if payload is None and event.data.strip() not in ("null", ""):
        head.append(" ")
        head.append(event.data)
        return Entry(head, head.plain)
    compact = json.dumps(payload, ensure_ascii=False)
    if len(compact) <= ONE_LINE_JSON:
        head.append(" ")
        head.append(compact, style="green")
        return Entry(head, head.plain)
    pretty = json.dumps(payload, ensure_ascii=False, indent=2)
    return Entry(Group(head, JSON(pretty)), f"{head.plain}\n{pretty}")


def gap_entry(gap: Gap) -> Entry:
    """The marked line that says a resumed stream is not complete."""
    missed = f"{gap.missed} events missed" if gap.missed is not None else "events may be missing"
    text = Text()
    text.append(f" ⚠ GAP: {missed} ({gap.reason}) ", style="bold black on yellow")
    where = f"asked for {gap.requested or '(nothing)'}, resuming from {gap.resume_from or 'live'}"
    text.append(f" {where}", style="bold yellow")
    if gap.detail:
        text.append(f"\n   {gap.detail}", style="yellow")
    return Entry(text, text.plain, kind="gap")


STATE_STYLES = {
    State.CONNECTING: "dim",
    State.LIVE: "green dim",
    State.RECONNECTING: "yellow",
    State.STOPPED: "dim",
    State.ERROR: "bold red",
}


def state_entry(change: StateChange) -> Entry:
    """A thin rule in the stream where the connection changed, so outages are visible in place."""
    text = Text(f"── {change.describe()} ──", style=STATE_STYLES.get(change.state, ""))
    return Entry(text, text.plain, kind="state")


def raw_frame(item: StreamItem) -> tuple[str, str, str] | None:
    """The frame exactly as received (state changes as `#` comments, which frames cannot be), as
    (text, style, kind): the raw view's entry, made by `raw_entry` when it is shown."""
    if isinstance(item, StateChange):
        return (f"# {item.describe()}", "dim italic", "state")
    if not item.raw:
        return None
    style = "dim" if isinstance(item, Heartbeat) else ("yellow" if isinstance(item, Gap) else "")
    # A frame ends with a blank line on the wire: kept, so frames stand apart as they came.
    return (item.raw.rstrip("\n") + "\n", style, "raw")


def raw_entry(frame: tuple[str, str, str]) -> Entry:
    """The raw view's entry for what `raw_frame` gave."""
    return Entry.lazy(_raw_text, frame, kind=frame[2])


def _raw_text(frame: tuple[str, str, str]) -> Text:
    text, style, _ = frame
    return Text(text, style=style)
