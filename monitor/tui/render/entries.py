"""A rendered line (or block) of a pane, and the small helpers every renderer shares."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import RenderableType
from rich.text import Text

from monitor.client.sanitize import control_runs, find_control, visible

ESCAPE_STYLE = "dim"  # a control shown as an escape: set apart from the text around it
NOTE_STYLE = "dim italic"  # the line that says how much of an entry was not drawn
MAX_DRAWN_LINES = 200  # lines of one field an entry draws; the raw view (v) shows more
LINE_CHARS = 100  # characters a drawn line counts for, in the character cap of a field
SEE_RAW = "v shows them"


class Entry:
    """One finished item of a pane's history: what is drawn and the text a filter matches.

    `Entry.lazy` builds its Text on first use: at thousands of events a second most entries
    scroll past unseen, and building them was most of the cost of a fast stream.
    """

    __slots__ = ("_built", "_make", "_source", "kind")

    def __init__(self, renderable: RenderableType, plain: str, kind: str = "event") -> None:
        self._built: tuple[RenderableType, str] | None = (renderable, plain)
        self._make: Callable[[Any], Text] | None = None
        self._source: Any = None
        self.kind = kind  # event, gap, state, raw: lets the view style or skip whole kinds

    @classmethod
    def lazy(cls, make: Callable[[Any], Text], source: Any, kind: str = "event") -> Entry:
        """An entry whose Text is `make(source)`, built when it is first drawn or filtered.

        `make` is a module-level function and `source` plain data, not a closure: thousands of
        entries a second must not each add objects for the garbage collector to walk.
        """
        entry = cls.__new__(cls)
        entry._built, entry._make, entry._source, entry.kind = None, make, source, kind
        return entry

    def _build(self) -> tuple[RenderableType, str]:
        if self._built is None:
            assert self._make is not None
            text = self._make(self._source)
            self._built, self._make, self._source = (text, text.plain), None, None
        return self._built

    @property
    def renderable(self) -> RenderableType:
        return self._build()[0]

    @property
    def plain(self) -> str:
        return self._build()[1]

    def matches(self, needle: str) -> bool:
        """Case-insensitive substring match, the filter's rule."""
        return not needle or needle.casefold() in self.plain.casefold()


@dataclass(slots=True)
class Rendered:
    """What a renderer made of one event: finished entries, and whether its live part changed."""

    entries: list[Entry] = field(default_factory=list)
    live_changed: bool = False


def text_entry(text: Text, kind: str = "event") -> Entry:
    """An entry whose drawing is a Text and whose filter text is that Text's plain string."""
    return Entry(text, text.plain, kind)


def clip(text: str, max_lines: int) -> tuple[str, str]:
    """The first `max_lines` lines of `text` (and at most `max_lines * LINE_CHARS` characters),
    and what was cut (`99,800 more lines`), or "" when nothing was."""
    max_chars = max_lines * LINE_CHARS
    if len(text) <= max_lines or (len(text) <= max_chars and text.count("\n") < max_lines):
        return text, ""  # the usual case: two C-speed looks, no copy
    cut = min(len(text), max_chars)
    end = -1
    for _ in range(max_lines):
        end = text.find("\n", end + 1, cut)
        if end < 0:
            break
    if end >= 0:
        cut = end
    if cut == len(text):
        return text, ""
    lines = text.count("\n", cut)
    if text[cut] == "\n":
        return text[:cut], f"{lines:,} more line{'' if lines == 1 else 's'}"
    more = f"{len(text) - cut:,} more characters"
    return text[:cut], f"{more} in {lines + 1:,} lines" if lines else more


def append_shown(text: Text, value: str, style: str = "", *, max_lines: int = MAX_DRAWN_LINES,
                 cut_note: str = SEE_RAW) -> None:
    """Append text a server or a file sent: controls as dim escapes, nothing read as markup,
    cut to `max_lines` with a line that says how much was left out (and `cut_note`)."""
    if len(value) < max_lines and find_control(value) is None:  # most fields: a plain append
        text.append(value, style)
        return
    value, cut = clip(value, max_lines)
    if find_control(value) is None:
        text.append(value, style)
    else:
        escape_style = f"{style} {ESCAPE_STYLE}".strip()
        for piece, escaped in control_runs(value):
            text.append(piece, escape_style if escaped else style)
    if cut:
        text.append(f"\n… {cut}: {cut_note}", NOTE_STYLE)


def shown(value: str, style: str = "", **options: Any) -> Text:
    """A Text of text a server or a file sent, as `append_shown` draws it."""
    text = Text(style=style)
    append_shown(text, value, **options)
    return text


def label(event_type: str, event_id: str) -> Text:
    """`TYPE #id ` prefix used by the generic renderers."""
    head = shown(event_type, "bold cyan")
    if event_id:
        append_shown(head, f" #{event_id}", "dim")
    return head


def short_json(value: Any, limit: int = 80) -> str:
    """Compact one-line JSON, cut to `limit` characters, every control visibly escaped."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return visible(text)


def first(payload: dict[str, Any], *keys: str, default: Any = None) -> Any:
    """The first of `keys` present (and not None) in `payload`."""
    for key in keys:
        value = payload.get(key)
        if value is not None:
            return value
    return default
