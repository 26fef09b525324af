"""What every stream has: the fallback for unknown events, gap lines, state lines, raw frames."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.highlighter import JSONHighlighter
from rich.text import Text

from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.client.sanitize import json_line
from monitor.tui.render.entries import (
    MAX_DRAWN_LINES,
    NOTE_STYLE,
    SEE_RAW,
    Entry,
    append_shown,
    clip,
    label,
    shown,
)

ONE_LINE_JSON = 100  # JSON shorter than this stays on the event's line
# rich.json.JSON would parse the text again and print it raw: the highlighter alone, on ours
_HIGHLIGHT_JSON = JSONHighlighter()
RAW_CUT_NOTE = "past the pane's --max-lines"


def generic_entry(event: Event, payload: Any) -> Entry:
    """Event type, id, and the data: compact or pretty-printed JSON, or the raw text."""
    head = label(event.type, event.id)
    if payload is None and event.data.strip() not in ("null", ""):
        head.append(" ")
        append_shown(head, event.data)
        return Entry(head, head.plain)
    # json.dumps escapes C0 controls itself; json_line the rest: no control is left to show.
    compact = json_line(json.dumps(payload, ensure_ascii=False))
    if len(compact) <= ONE_LINE_JSON:
        head.append(" ")
        head.append(compact, style="green")
        return Entry(head, head.plain)
    pretty, cut = clip(json_line(json.dumps(payload, ensure_ascii=False, indent=2)),
                       MAX_DRAWN_LINES)
    body = _HIGHLIGHT_JSON(pretty)
    body.no_wrap, body.overflow = True, None  # as rich.json.JSON draws it
    if cut:
        body.append(f"\n… {cut}: {SEE_RAW}", NOTE_STYLE)
    return Entry(Group(head, body), f"{head.plain}\n{body.plain}")


def gap_entry(gap: Gap) -> Entry:
    """The marked line that says a resumed stream is not complete."""
    missed = f"{gap.missed} events missed" if gap.missed is not None else "events may be missing"
    text = Text()
    append_shown(text, f" ⚠ GAP: {missed} ({gap.reason}) ", "bold black on yellow")
    where = f"asked for {gap.requested or '(nothing)'}, resuming from {gap.resume_from or 'live'}"
    append_shown(text, f" {where}", "bold yellow")
    if gap.detail:
        append_shown(text, f"\n   {gap.detail}", "yellow")
    return Entry(text, text.plain, kind="gap")


STATE_STYLES = {
    State.CONNECTING: "dim",
    State.LIVE: "green dim",
    State.RECONNECTING: "yellow",
    State.STOPPED: "dim",
    State.ERROR: "bold red",
    State.ENDED: "dim",
}


def state_entry(change: StateChange) -> Entry:
    """A thin rule in the stream where the connection changed, so outages are visible in place."""
    text = Text("── ", style=STATE_STYLES.get(change.state, ""))
    append_shown(text, change.describe())
    text.append(" ──")
    return Entry(text, text.plain, kind="state")


RawFrame = tuple[str, str, str, int]  # text, style, kind, lines drawn at most


def raw_frame(item: StreamItem, max_lines: int) -> RawFrame | None:
    """The frame exactly as received (state changes as `#` comments, which frames cannot be), as
    the raw view's entry, made by `raw_entry` when it is shown, draws it: up to `max_lines`."""
    if isinstance(item, StateChange):
        return (f"# {item.describe()}", "dim italic", "state", max_lines)
    if not item.raw:
        return None
    style = "dim" if isinstance(item, Heartbeat) else ("yellow" if isinstance(item, Gap) else "")
    # A frame ends with a blank line on the wire: kept, so frames stand apart as they came.
    return (item.raw.rstrip("\n") + "\n", style, "raw", max_lines)


def raw_entry(frame: RawFrame) -> Entry:
    """The raw view's entry for what `raw_frame` gave."""
    return Entry.lazy(_raw_text, frame, kind=frame[2])


def _raw_text(frame: RawFrame) -> Text:
    text, style, _, max_lines = frame
    return shown(text, style, max_lines=max_lines, cut_note=RAW_CUT_NOTE)
